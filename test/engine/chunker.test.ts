import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chunker, type ChunkWindow } from '../../workers/engine/index.js';
import { blocks, concat } from '../helpers/audio-io.js';

const ramp = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => i + 1);

/** Runs a "model" that returns its input, so the stitched centres must reproduce the stream exactly. */
function roundTrip(
  chunker: Chunker,
  input: Float32Array,
  sizes?: number[],
): { out: Float32Array; windows: ChunkWindow[] } {
  const windows: ChunkWindow[] = [];
  for (const block of blocks(input, sizes)) windows.push(...chunker.push(block));
  windows.push(...chunker.flush());
  return { out: concat(windows.map((w) => chunker.centre(w, w.samples))), windows };
}

test('stitched centres equal the input for any block sizes, windows have a fixed length', () => {
  for (const n of [0, 1, 255, 256, 1000, 4096, 10_000]) {
    const chunker = new Chunker({ chunk: 256, left: 128, right: 64 });
    const { out, windows } = roundTrip(chunker, ramp(n), [1, 97, 500, 3]);
    assert.deepEqual(out, ramp(n), `n=${n}`);
    for (const w of windows) assert.equal(w.samples.length, 448);
  }
});

test('context is the neighbouring audio, zeros beyond the edges', () => {
  const chunker = new Chunker({ chunk: 4, left: 2, right: 2 });
  const { windows } = roundTrip(chunker, ramp(6));
  assert.deepEqual(Array.from(windows[0].samples), [0, 0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(windows[1].samples), [3, 4, 5, 6, 0, 0, 0, 0]);
  assert.deepEqual(
    windows.map((w) => [w.start, w.valid]),
    [
      [0, 4],
      [4, 2],
    ],
  );
});

test('the last windows cover samples pushed into the right context', () => {
  // 7 samples with chunk 4 / right 3: the first window is emitted only at flush, then a second one follows.
  const chunker = new Chunker({ chunk: 4, left: 0, right: 3 });
  const { out, windows } = roundTrip(chunker, ramp(7));
  assert.deepEqual(out, ramp(7));
  assert.equal(windows.length, 2);
});

test('options are validated by name', () => {
  assert.throws(() => new Chunker({ chunk: 0, left: 0, right: 0 }), {
    code: 'VC_ERR_ENGINE_OPTIONS',
    message: /options\.chunk/,
  });
  assert.throws(() => new Chunker({ chunk: 4, left: -1, right: 0 }), { message: /options\.left/ });
});
