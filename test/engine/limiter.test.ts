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
