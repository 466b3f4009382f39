import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PcmHead } from '../../workers/tasks/pcm-head.js';

/** Blocks of the given sizes holding 0, 1, 2, ...; `closed` says whether the reader was stopped. */
function stream(sizes: number[]): { source: AsyncGenerator<Float32Array>; state: { closed: boolean } } {
  const state = { closed: false };
  async function* source(): AsyncGenerator<Float32Array> {
    let v = 0;
    try {
      for (const n of sizes) yield Float32Array.from({ length: n }, () => v++);
    } finally {
      state.closed = true;
    }
  }
  return { source: source(), state };
}

async function drain(source: AsyncIterable<Float32Array> | Iterable<Float32Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const b of source) out.push(...b);
  return out;
}

const count = (n: number) => Array.from({ length: n }, (_, i) => i);

test('the head is exactly the first samples, split inside a block; the whole stream follows once', async () => {
  const { source, state } = stream([4, 3, 5, 2]);
  const head = await PcmHead.read(source, 6);
  assert.deepEqual(await drain(head.blocks), count(6));
  assert.equal(state.closed, false, 'the rest is still to be read');
  const seen: number[] = [];
  assert.deepEqual(await drain(head.all((n) => seen.push(n))), count(14));
  assert.deepEqual(seen, [4, 6, 7, 12, 14], 'samples given so far, per block');
  assert.equal(state.closed, true);
});

test('a stream shorter than the head is kept whole and replayed', async () => {
  const { source } = stream([4, 3]);
  const head = await PcmHead.read(source, 100);
  assert.deepEqual(await drain(head.blocks), count(7));
  assert.deepEqual(await drain(head.all()), count(7));
});

test('a head ending on a block boundary leaves no empty block', async () => {
  const { source } = stream([4, 3, 5]);
  const head = await PcmHead.read(source, 7);
  assert.deepEqual(
    head.blocks.map((b) => b.length),
    [4, 3],
  );
  const sizes: number[] = [];
  for await (const b of head.all()) sizes.push(b.length);
  assert.deepEqual(sizes, [4, 3, 5]);
});

test('closing without reading the rest stops the source (its decoder is killed)', async () => {
  const { source, state } = stream([4, 4, 4]);
  const head = await PcmHead.read(source, 5);
  await head.close();
  assert.equal(state.closed, true);
});

test('a consumer that stops early stops the source', async () => {
  const { source, state } = stream([4, 4, 4, 4]);
  const head = await PcmHead.read(source, 2);
  for await (const _ of head.all()) break;
  assert.equal(state.closed, true);
});

test('a source that fails while the head is read is stopped and the error passes', async () => {
  let closed = false;
  async function* failing(): AsyncGenerator<Float32Array> {
    try {
      yield new Float32Array(3);
      throw new Error('decode failed');
    } finally {
      closed = true;
    }
  }
  await assert.rejects(PcmHead.read(failing(), 10), /decode failed/);
  assert.equal(closed, true);
});
