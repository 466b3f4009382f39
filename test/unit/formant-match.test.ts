import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FORMANT_MATCH_DEFAULTS,
  FormantInventory,
  matchFormantRatios,
  withMatchedFormants,
} from '../../workers/engine/index.js';

/** A deterministic generator in 0..1 (a linear congruential one), so the tests see the same frames. */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Five vowel kinds (F1, F2, F3 in Hz) of one voice. */
const VOWELS = [
  [300, 2300, 3000],
  [700, 1200, 2600],
  [500, 1800, 2500],
  [350, 900, 2400],
  [600, 1000, 2700],
];

/** `n` frames of the vowels `kinds`, each formant scaled by `scale` and jittered by up to +-3 %. */
function frames(kinds: number[], scale: number[], n: number, seed: number): number[] {
  const rnd = uniform(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = VOWELS[kinds[i % kinds.length]];
    for (let k = 0; k < 3; k++) out.push(v[k] * scale[k] * (1 + 0.06 * (rnd() - 0.5)));
  }
  return out;
}

/** Median of column k of [n][3]. */
function median(inventory: number[], k: number): number {
  const col = inventory.filter((_, i) => i % 3 === k).sort((a, b) => a - b);
  return col[Math.floor(col.length / 2)];
}

test('an inventory keeps an evenly spaced sample of every frame in bounded memory', () => {
  const inv = new FormantInventory(8);
  for (let i = 0; i < 100; i++) inv.add([i, i, i]);
  const kept = inv.entries().filter((_, i) => i % 3 === 0);
  assert.ok(kept.length <= 8 && kept.length >= 4, `kept ${kept.length}`);
  const step = kept[1] - kept[0];
  assert.ok(step > 1, 'the stride grew');
  assert.deepEqual(
    kept,
    kept.map((_, i) => i * step),
    'evenly spaced from the first frame',
  );
  assert.ok((kept.at(-1) ?? 0) >= 100 - 2 * step, 'the sample reaches the stream end');
  const few = new FormantInventory(8);
  for (let i = 0; i < 5; i++) few.add([i, 2 * i, 3 * i]);
  assert.deepEqual(
    few.entries(),
    [0, 0, 0, 1, 2, 3, 2, 4, 6, 3, 6, 9, 4, 8, 12],
    'a short stream: every frame',
  );
});

test("a sentence with few vowel kinds: the match finds the voices' ratios where the medians miss", () => {
  const truth = [1.2, 1.1, 1.15];
  // The target reads all five vowels; the source one sentence of two kinds only.
  const target = frames([0, 1, 2, 3, 4], truth, 200, 1);
  const source = frames([1, 4], [1, 1, 1], 60, 2);
  const medians = [0, 1, 2].map((k) => median(target, k) / median(source, k));
  const logErr = (r: number[]) => Math.max(...r.map((v, k) => Math.abs(Math.log(v / truth[k]))));
  const matched = matchFormantRatios(source, target, medians);
  assert.ok(matched, 'enough frames');
  assert.ok(logErr(medians) > 0.2, `the medians miss (${medians.map((v) => v.toFixed(2))})`);
  assert.ok(logErr(matched) < 0.05, `matched ${matched.map((v) => v.toFixed(3))} against ${truth}`);
});

test('the same voice matched to itself asks for no move', () => {
  const voice = frames([0, 1, 2, 3, 4], [1, 1, 1], 150, 3);
  const sentence = frames([0, 2], [1, 1, 1], 40, 4);
  const medians = [0, 1, 2].map((k) => median(voice, k) / median(sentence, k));
  const matched = matchFormantRatios(sentence, voice, medians, FORMANT_MATCH_DEFAULTS);
  assert.ok(matched);
  for (const r of matched) assert.ok(Math.abs(Math.log(r)) < 0.03, `ratio ${r}`);
});

test('too few frames, or profiles without an inventory, keep the medians; long sources keep them too', () => {
  const target = frames([0, 1, 2, 3, 4], [1.2, 1.2, 1.2], 100, 5);
  assert.equal(matchFormantRatios(frames([1], [1, 1, 1], 5, 6), target, [1, 1, 1]), null);
  const old = { formants: [500, 1500, 2500], durationSeconds: 3 };
  const withInventory = { formants: [600, 1800, 2900], formantInventory: target, durationSeconds: 20 };
  assert.equal(withMatchedFormants(old, withInventory, FORMANT_MATCH_DEFAULTS), old);
  const source = {
    formants: [500, 1500, 2500],
    formantInventory: frames([0, 1, 2, 3, 4], [1, 1, 1], 100, 7),
    durationSeconds: 3,
  };
  assert.equal(
    withMatchedFormants({ ...old, formantInventory: [] }, withInventory, FORMANT_MATCH_DEFAULTS).formants,
    old.formants,
  );
  const ratios = (p: { formants?: number[] }) =>
    withInventory.formants.map((v, k) => v / (p.formants?.[k] ?? 0));
  // The target's formants over the matched source's are the matched ratios (here the voices' 1.2).
  for (const r of ratios(withMatchedFormants(source, withInventory, FORMANT_MATCH_DEFAULTS)))
    assert.ok(Math.abs(Math.log(r / 1.2)) < 0.03, `ratio ${r}`);
  // Faded by length: half way (in log) at half the fade, the medians' ratios from the fade on.
  const fading = { ...FORMANT_MATCH_DEFAULTS, fadeSeconds: 6 };
  const medians = ratios(source);
  ratios(withMatchedFormants(source, withInventory, fading)).forEach((r, k) => {
    const half = Math.sqrt(medians[k] * 1.2);
    assert.ok(Math.abs(Math.log(r / half)) < 0.015, `ratio ${k}: ${r} against ${half}`);
  });
  const long = { ...source, durationSeconds: 6 };
  assert.equal(withMatchedFormants(long, withInventory, fading), long);
});
