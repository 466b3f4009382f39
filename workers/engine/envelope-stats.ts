import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Whole-stream statistics of a voice's frame envelopes (the level-free cepstra c1..cQ of voice-features.ts)
 * for the default model's linear envelope mapping (whitening-colouring): c' = mu_t + A (c - mu_s) with
 * A = S_t^(1/2) S_s^(-1/2). Each profile carries its mean and the symmetric square root of its covariance
 * and of its inverse; the graph multiplies the source's inverse root by the target's root. Exact running
 * sums (Q + Q^2 numbers), so memory is flat for any length.
 */
export class EnvelopeMoments {
  readonly #dim: number;
  readonly #sum: Float64Array;
  readonly #outer: Float64Array;
  #count = 0;

  constructor(dim: number) {
    this.#dim = dim;
    this.#sum = new Float64Array(dim);
    this.#outer = new Float64Array(dim * dim);
  }

  add(c: ArrayLike<number>): void {
    const q = this.#dim;
    for (let i = 0; i < q; i++) if (!Number.isFinite(c[i])) return;
    this.#count++;
    for (let i = 0; i < q; i++) {
      this.#sum[i] += c[i];
      const row = i * q;
      for (let j = 0; j < q; j++) this.#outer[row + j] += c[i] * c[j];
    }
  }

  /** Frames added. */
  get count(): number {
    return this.#count;
  }

  /** Mean [Q] and covariance [Q * Q] row-major (zeros when nothing was added). */
  moments(): { mean: number[]; covariance: number[] } {
    const q = this.#dim;
    const n = Math.max(1, this.#count);
    const mean = Array.from(this.#sum, (s) => s / n);
    const covariance = Array.from(this.#outer, (s, k) => s / n - mean[Math.floor(k / q)] * mean[k % q]);
    return { mean, covariance };
  }
}

/**
 * Least eigenvalue kept (cepstral variance; a voice's c1..c24 vary by 1e-3..1): an input with no frames, or
 * all alike, maps its deviations by at most 1 / sqrt(this) instead of without bound.
 */
const ABSOLUTE_FLOOR = 1e-4;

/**
 * Symmetric square roots of a covariance [Q * Q] (row-major) by eigendecomposition: S^(1/2) and
 * S^(-1/2), with every eigenvalue floored at `floorShare` of the largest (plus ABSOLUTE_FLOOR) first, so the directions a voice
 * hardly varies in are not blown up by the inverse (and both roots stay each other's inverse).
 */
export function covarianceRoots(
  covariance: readonly number[],
  dim: number,
  floorShare: number,
): { root: number[]; inverseRoot: number[] } {
  const rows = Array.from({ length: dim }, (_, i) => covariance.slice(i * dim, (i + 1) * dim));
  const m = new Matrix(rows);
  // Symmetrise against rounding.
  const sym = m.add(m.transpose()).mul(0.5);
  const eig = new EigenvalueDecomposition(sym, { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const vectors = eig.eigenvectorMatrix;
  const floor = Math.max(...values.map((v) => Math.max(v, 0))) * floorShare + ABSOLUTE_FLOOR;
  const build = (f: (v: number) => number): number[] => {
    const scaled = vectors.clone();
    for (let j = 0; j < dim; j++) {
      const s = f(Math.max(values[j], floor));
      for (let i = 0; i < dim; i++) scaled.set(i, j, scaled.get(i, j) * s);
    }
    return scaled.mmul(vectors.transpose()).to1DArray();
  };
  return { root: build(Math.sqrt), inverseRoot: build((v) => 1 / Math.sqrt(v)) };
}
