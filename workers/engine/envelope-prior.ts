import { covarianceRoots } from './envelope-stats.js';
import type { SourcePrior } from './manifest.js';
import { ENVELOPE_CLASSES } from './profile-accumulator.js';
import type { VoiceProfile } from './voice-profile.js';
import { CEPSTRA } from './voice-profile.js';

/** Same floor as the profiles' own roots (profile-accumulator.ts). */
const FLOOR_SHARE = 1e-3;

/** Covariance [Q * Q] from its symmetric square root. */
function square(root: readonly number[], Q: number): number[] {
  const out = new Array<number>(Q * Q).fill(0);
  for (let i = 0; i < Q; i++)
    for (let j = 0; j < Q; j++) {
      let s = 0;
      for (let k = 0; k < Q; k++) s += root[i * Q + k] * root[k * Q + j];
      out[i * Q + j] = s;
    }
  return out;
}

/** Class `c`'s slice of a per-class array of `size` numbers per class. */
function part(a: readonly number[], c: number, size: number): number[] {
  return a.slice(c * size, (c + 1) * size);
}

/**
 * A conversion's source statistics moved toward the model's speaker-independent prior by how little
 * evidence they rest on: with n frames in a class, its mean and covariance become
 * (n x own + k x prior) / (n + k), k = prior.frames (prior.meanFrames for the mean), times a fade from 1 at
 * 0 s to 0 at prior.fadeSeconds of analysed source. A short source (one sentence) reads its phonetic
 * content as a speaker difference, which the map would then undo; a long one keeps its own statistics.
 * Profiles without frame counts (made before them) are returned as they are.
 */
export function shrinkToPrior(p: VoiceProfile, prior: SourcePrior): VoiceProfile {
  const { envelopeMean, envelopeRoot, envelopeFrames } = p;
  const Q = prior.mean.length / ENVELOPE_CLASSES;
  if (
    envelopeMean?.length !== ENVELOPE_CLASSES * Q ||
    envelopeRoot?.length !== ENVELOPE_CLASSES * Q * Q ||
    envelopeFrames?.length !== ENVELOPE_CLASSES
  )
    return p;
  const fade = prior.fadeSeconds === undefined ? 1 : Math.max(0, 1 - p.durationSeconds / prior.fadeSeconds);
  if (fade === 0) return p;
  const out = {
    envelopeMean: [] as number[],
    envelopeRoot: [] as number[],
    envelopeInverseRoot: [] as number[],
  };
  for (let c = 0; c < ENVELOPE_CLASSES; c++) {
    const n = envelopeFrames[c];
    const w = n / (n + prior.frames * fade);
    const meanFrames = (prior.meanFrames ?? prior.frames) * fade;
    const wMean = meanFrames > 0 ? n / (n + meanFrames) : 1;
    const priorMean = part(prior.mean, c, Q);
    const priorCov = part(prior.covariance, c, Q * Q);
    const cov = square(part(envelopeRoot, c, Q * Q), Q).map((v, k) => w * v + (1 - w) * priorCov[k]);
    const { root, inverseRoot } = covarianceRoots(cov, Q, FLOOR_SHARE);
    out.envelopeMean.push(...part(envelopeMean, c, Q).map((v, k) => wMean * v + (1 - wMean) * priorMean[k]));
    out.envelopeRoot.push(...root);
    out.envelopeInverseRoot.push(...inverseRoot);
  }
  return { ...p, ...out };
}

/**
 * A prior from profiles of several speakers (scripts/build-prior.ts): the mean of their envelope means and
 * of their covariances (within-speaker spread only: the speakers' differences are what a map should move).
 */
export function sourcePriorOf(profiles: readonly VoiceProfile[], frames: number, from?: string): SourcePrior {
  const Q = profiles[0]?.envelopeCepstra ?? CEPSTRA;
  const mean = new Array<number>(ENVELOPE_CLASSES * Q).fill(0);
  const covariance = new Array<number>(ENVELOPE_CLASSES * Q * Q).fill(0);
  for (const p of profiles) {
    if (p.envelopeMean?.length !== mean.length || p.envelopeRoot?.length !== covariance.length)
      throw new Error('every profile of a prior needs envelope statistics');
    p.envelopeMean.forEach((v, k) => {
      mean[k] += v / profiles.length;
    });
    for (let c = 0; c < ENVELOPE_CLASSES; c++)
      square(part(p.envelopeRoot, c, Q * Q), Q).forEach((v, k) => {
        covariance[c * Q * Q + k] += v / profiles.length;
      });
  }
  const r = (v: number): number => Number(v.toPrecision(6));
  return {
    frames,
    mean: mean.map(r),
    covariance: covariance.map(r),
    ...(from === undefined ? {} : { from }),
  };
}
