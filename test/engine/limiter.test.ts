import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Limiter, PEAK_CEILING } from '../../workers/engine/index.js';
import { blocks, concat } from '../helpers/audio-io.js';

function run(limiter: Limiter, input: Float32Array): Float32Array {
  const parts = [...blocks(input, [7, 1000, 1, 333])].map((b) => limiter.process(b));
  return concat([...parts, limiter.flush()]);
}

test('peaks stay under -0.1 dBFS and the length is kept', () => {
  const n = 24_000;
  const loud = Float32Array.from({ length: n }, (_, i) => 3 * Math.sin(i / 7) + (i % 5000 === 0 ? 20 : 0));
  const out = run(new Limiter({ lookahead: 48, release: 1200 }), loud);
  assert.equal(out.length, n);
  assert.ok(out.every((v) => Math.abs(v) <= PEAK_CEILING));
});

test('audio under the ceiling passes unchanged, delay compensated', () => {
  const quiet = Float32Array.from({ length: 5000 }, (_, i) => 0.5 * Math.sin(i / 3));
  assert.deepEqual(run(new Limiter({ lookahead: 48, release: 1200 }), quiet), quiet);
});

/** The limiter as first written (a full scan of the last w needs per sample): the oracle for the fast one. */
function referenceLimit(input: Float32Array, lookahead: number, release: number): Float32Array {
  const target = PEAK_CEILING * 0.999;
  const w = Math.max(2, Math.round(lookahead));
  const coef = Math.exp(-1 / Math.max(1, release));
  const need = new Float32Array(w).fill(1);
  const held = new Float32Array(w).fill(1);
  const delay = new Float32Array(w);
  let heldSum = w;
  let released = 1;
  let pos = 0;
  const step = (x: number): number => {
    const a = Math.abs(x);
    need[pos] = a > target ? target / a : 1;
    let min = 1;
    for (let j = 0; j < w; j++) min = Math.min(min, need[j]);
    released = Math.min(min, 1 - (1 - released) * coef);
    heldSum += released - held[pos];
    held[pos] = released;
    const gain = Math.min(1, heldSum / w);
    const delayed = delay[(pos + 1) % w];
    delay[pos] = x;
    pos = (pos + 1) % w;
    return delayed * gain;
  };
  const out = new Float32Array(input.length);
  for (let i = 0; i < input.length + w - 1; i++) {
    const y = step(i < input.length ? input[i] : 0);
    if (i >= w - 1) out[i - (w - 1)] = y;
  }
  return out;
}

test('the fast limiter gives the same samples as a plain scan of every window', () => {
  // Quiet stretches (the fast path), bursts over the ceiling, a full-scale square and silence.
  const n = 48_000;
  const input = Float32Array.from({ length: n }, (_, i) => {
    const quiet = 0.3 * Math.sin(i / 11);
    if (i % 9000 < 40) return 4 * Math.sin(i / 3);
    if (i > 30_000 && i < 31_000) return i % 50 < 25 ? 1 : -1;
    if (i > 40_000 && i < 42_000) return 0;
    return quiet;
  });
  const expected = referenceLimit(input, 48, 1200);
  const got = run(new Limiter({ lookahead: 48, release: 1200 }), input);
  assert.equal(got.length, expected.length);
  const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
  assert.ok(worst <= 1e-6, `largest difference ${worst}`);
});
