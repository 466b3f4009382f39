import assert from 'node:assert/strict';
import { test } from 'node:test';
import { covarianceRoots, EnvelopeMoments } from '../../workers/engine/envelope-stats.js';

const D = 4;
const mul = (a: readonly number[], b: readonly number[]): number[] =>
  Array.from({ length: D * D }, (_, k) => {
    const [i, j] = [Math.floor(k / D), k % D];
    let s = 0;
    for (let m = 0; m < D; m++) s += a[i * D + m] * b[m * D + j];
    return s;
  });
const near = (a: readonly number[], b: readonly number[], tol: number, what: string): void => {
  const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  assert.ok(worst < tol, `${what}: off by ${worst}`);
};
/** Small deterministic PRNG (mulberry32), so the test's frames are the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}
const identity = Array.from({ length: D * D }, (_, k) => (Math.floor(k / D) === k % D ? 1 : 0));

test('EnvelopeMoments: mean and covariance of correlated frames, non-finite frames skipped', () => {
  const random = prng(7);
  const m = new EnvelopeMoments(D);
  const n = 20_000;
  for (let t = 0; t < n; t++) {
    const z = Array.from({ length: D }, () => random() - 0.5);
    // x = mean + L z: covariance L L^T / 12 (uniform on [-1/2, 1/2] has variance 1/12).
    m.add([1 + z[0], -2 + z[0] + z[1], 3 + 2 * z[2], z[3] * 0.1]);
  }
  m.add([Number.NaN, 0, 0, 0]);
  const { mean, covariance } = m.moments();
  near(mean, [1, -2, 3, 0], 0.02, 'mean');
  const expected = [1, 1, 0, 0, 1, 2, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0.01].map((v) => v / 12);
  near(covariance, expected, 0.01, 'covariance');
  // Nothing added: zeros, never NaN.
  const empty = new EnvelopeMoments(D).moments();
  assert.ok([...empty.mean, ...empty.covariance].every((v) => v === 0));
});

test('covarianceRoots: root^2 is the covariance, root x inverse root the identity, small eigenvalues floored', () => {
  // A symmetric positive definite matrix with eigenvalues 4, 1, 0.25 and 1e-6 (below the floor).
  const c = Math.SQRT1_2;
  const q = [c, c, 0, 0, -c, c, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]; // rows are eigenvectors
  const values = [4, 1, 0.25, 1e-6];
  const cov = Array.from({ length: D * D }, (_, k) => {
    const [i, j] = [Math.floor(k / D), k % D];
    let s = 0;
    for (let e = 0; e < D; e++) s += q[e * D + i] * values[e] * q[e * D + j];
    return s;
  });
  const { root, inverseRoot } = covarianceRoots(cov, D, 1e-3);
  near(mul(root, inverseRoot), identity, 1e-9, 'root x inverse root');
  near(
    root,
    root.map((_, k) => root[(k % D) * D + Math.floor(k / D)]),
    1e-12,
    'symmetric',
  );
  // Above the floor the square is the covariance; the 1e-6 direction reads the floor (4e-3 + 1e-4) instead.
  const squared = mul(root, root);
  near(squared.slice(0, 2 * D + 3), cov.slice(0, 2 * D + 3), 1e-9, 'root^2');
  assert.ok(Math.abs(squared[D * D - 1] - (4e-3 + 1e-4)) < 1e-9, `floored: ${squared[D * D - 1]}`);
  // The inverse root of the floored direction is bounded (1 / sqrt(floor)), not 1000.
  assert.ok(Math.abs(inverseRoot[D * D - 1] - 1 / Math.sqrt(4.1e-3)) < 1e-6, `${inverseRoot[D * D - 1]}`);
});
