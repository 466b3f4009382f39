import assert from 'node:assert/strict';
import { test } from 'node:test';
import { covarianceRoots } from '../../workers/engine/envelope-stats.js';
import {
  ENVELOPE_CLASSES,
  ModelManifestError,
  parseManifest,
  type SourcePrior,
  shrinkToPrior,
  sourcePriorOf,
  type VoiceProfile,
} from '../../workers/engine/index.js';

const Q = 24;
const near = (a: readonly number[], b: readonly number[], tol: number, what: string): void => {
  assert.equal(a.length, b.length, `${what}: length`);
  const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  assert.ok(worst < tol, `${what}: off by ${worst}`);
};
/** A diagonal covariance [Q * Q] with `d(i)` on the diagonal. */
const diagonal = (d: (i: number) => number): number[] =>
  Array.from({ length: Q * Q }, (_, k) => (Math.floor(k / Q) === k % Q ? d(k % Q) : 0));
const perClass = <T>(f: (c: number) => T[]): T[] =>
  Array.from({ length: ENVELOPE_CLASSES }, (_, c) => f(c)).flat();

/** A profile whose class c has mean `mean(c)` and covariance diag(var(c)), from `frames[c]` frames. */
function profile(
  mean: (c: number) => number,
  variance: (c: number) => number,
  frames?: number[],
): VoiceProfile {
  const roots = perClass((c) => [
    covarianceRoots(
      diagonal(() => variance(c)),
      Q,
      1e-3,
    ),
  ]);
  return {
    format: 'vcfarm-voice/1',
    model: 'm',
    sampleRate: 24000,
    f0Median: 120,
    f0P10: 100,
    f0P90: 140,
    voicedSeconds: 1,
    durationSeconds: 2,
    envelope: [0],
    formants: [500, 1500, 2500],
    envelopeMean: perClass((c) => Array.from({ length: Q }, () => mean(c))),
    envelopeRoot: roots.flatMap((r) => r.root),
    envelopeInverseRoot: roots.flatMap((r) => r.inverseRoot),
    ...(frames === undefined ? {} : { envelopeFrames: frames }),
  };
}

const prior: SourcePrior = {
  frames: 100,
  mean: perClass(() => Array.from({ length: Q }, () => 1)),
  covariance: perClass(() => diagonal(() => 0.04)),
};

test('shrinkToPrior: n frames against k move mean and covariance n / (n + k) of the way from the prior', () => {
  // Voiced class: 100 frames (half way), the other: 300 (a quarter of the way to the prior).
  const own = profile(
    (c) => (c === 0 ? 3 : -1),
    () => 0.16,
    [100, 300],
  );
  const out = shrinkToPrior(own, prior);
  const expectMean = [...Array(Q).fill(0.5 * 3 + 0.5 * 1), ...Array(Q).fill(0.75 * -1 + 0.25 * 1)];
  near(out.envelopeMean ?? [], expectMean, 1e-9, 'mean');
  const expectRoot = perClass((c) => diagonal(() => Math.sqrt(c === 0 ? 0.1 : 0.75 * 0.16 + 0.25 * 0.04)));
  near(out.envelopeRoot ?? [], expectRoot, 1e-9, 'root');
  near(
    out.envelopeInverseRoot ?? [],
    expectRoot.map((v) => (v === 0 ? 0 : 1 / v)),
    1e-9,
    'inverse root',
  );
  // Nothing else changes, and the input is not modified.
  assert.deepEqual(
    { ...out, envelopeMean: 0, envelopeRoot: 0, envelopeInverseRoot: 0 },
    {
      ...own,
      envelopeMean: 0,
      envelopeRoot: 0,
      envelopeInverseRoot: 0,
    },
  );
  assert.equal(own.envelopeMean?.[0], 3);
});

test('shrinkToPrior: a long source keeps its statistics, an empty one takes the prior', () => {
  const long = shrinkToPrior(
    profile(
      () => 3,
      () => 0.16,
      [1e9, 1e9],
    ),
    prior,
  );
  near(long.envelopeMean ?? [], Array(ENVELOPE_CLASSES * Q).fill(3), 1e-6, 'long mean');
  const empty = shrinkToPrior(
    profile(
      () => 3,
      () => 0.16,
      [0, 0],
    ),
    prior,
  );
  near(empty.envelopeMean ?? [], prior.mean, 1e-12, 'empty mean');
  near(
    empty.envelopeRoot ?? [],
    perClass(() => diagonal(() => 0.2)),
    1e-9,
    'empty root',
  );
});

test('shrinkToPrior: profiles made before frame counts are used as they are', () => {
  const old = profile(
    () => 3,
    () => 0.16,
  );
  assert.equal(shrinkToPrior(old, prior), old);
});

test('sourcePriorOf: the mean of the speakers means and of their (within-speaker) covariances', () => {
  const p = sourcePriorOf(
    [
      profile(
        () => 1,
        () => 0.04,
        [9, 9],
      ),
      profile(
        () => 3,
        () => 0.16,
        [9, 9],
      ),
    ],
    50,
    'x',
  );
  assert.equal(p.frames, 50);
  assert.equal(p.from, 'x');
  near(p.mean, Array(ENVELOPE_CLASSES * Q).fill(2), 1e-9, 'mean');
  // (0.04 + 0.16) / 2; the spread between the two means (1 each way) is not in it.
  near(
    p.covariance,
    perClass(() => diagonal(() => 0.1)),
    1e-9,
    'covariance',
  );
  assert.throws(() =>
    sourcePriorOf(
      [
        {
          ...profile(
            () => 1,
            () => 1,
          ),
          envelopeMean: undefined,
        },
      ],
      5,
    ),
  );
});

test('shrinkToPrior: meanFrames weighs the mean apart (0 keeps the source its own mean)', () => {
  const own = profile(
    () => 3,
    () => 0.16,
    [100, 0],
  );
  const covOnly = shrinkToPrior(own, { ...prior, meanFrames: 0 });
  near(covOnly.envelopeMean ?? [], Array(ENVELOPE_CLASSES * Q).fill(3), 1e-12, 'mean kept');
  near(
    covOnly.envelopeRoot ?? [],
    perClass((c) => diagonal(() => Math.sqrt(c === 0 ? 0.1 : 0.04))),
    1e-9,
    'root',
  );
  const heavy = shrinkToPrior(own, { ...prior, meanFrames: 300 });
  near(heavy.envelopeMean ?? [], [...Array(Q).fill(0.25 * 3 + 0.75), ...Array(Q).fill(1)], 1e-9, 'mean');
});

test('the shipped manifest carries a well-formed prior; a malformed one is refused naming the field', async () => {
  const { readFile } = await import('node:fs/promises');
  const path = new URL('../../../models/default/model.json', import.meta.url);
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  const p = parseManifest(manifest).analysis.sourcePrior;
  assert.ok(p !== undefined && p.frames > 0);
  assert.ok([...p.mean, ...p.covariance].every(Number.isFinite));
  const bad = {
    ...manifest,
    analysis: { ...manifest.analysis, sourcePrior: { ...p, mean: p.mean.slice(1) } },
  };
  assert.throws(
    () => parseManifest(bad),
    (err: Error) => {
      assert.ok(err instanceof ModelManifestError);
      assert.match(err.message, /sourcePrior\/mean/);
      return true;
    },
  );
});

test('shrinkToPrior: the prior fades out with the source length (fadeSeconds)', () => {
  // durationSeconds 2 of fadeSeconds 4: half the prior's weight (k 50 against n 100: a third of the way).
  const own = profile(
    () => 4,
    () => 0.16,
    [100, 100],
  );
  const half = shrinkToPrior(own, { ...prior, fadeSeconds: 4 });
  near(half.envelopeMean ?? [], Array(ENVELOPE_CLASSES * Q).fill((2 / 3) * 4 + 1 / 3), 1e-9, 'mean');
  const long = { ...own, durationSeconds: 4 };
  assert.equal(shrinkToPrior(long, { ...prior, fadeSeconds: 4 }), long);
});
