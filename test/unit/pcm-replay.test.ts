import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PcmReplay } from '../../workers/tasks/pcm-replay.js';

async function* stream(sizes: number[]): AsyncGenerator<Float32Array> {
  let v = 0;
  for (const n of sizes) yield Float32Array.from({ length: n }, () => v++);
}
async function drain(source: AsyncIterable<Float32Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const b of source) out.push(...b);
  return out;
}

test('a stream that fits is passed through, then replayed sample for sample with progress', async () => {
  const replay = new PcmReplay(10);
  assert.equal(replay.complete, false, 'not before the stream ended');
  const first = await drain(replay.record(stream([4, 3, 3])));
  assert.equal(replay.complete, true);
  const counts: number[] = [];
  assert.deepEqual(await drain(replay.play((n) => counts.push(n))), first);
  assert.deepEqual(counts, [4, 7, 10]);
});

test('a stream longer than the limit is passed through whole but not kept', async () => {
  const replay = new PcmReplay(10);
  const first = await drain(replay.record(stream([4, 4, 4])));
  assert.equal(first.length, 12, 'the first pass still sees every sample');
  assert.equal(replay.complete, false);
  await assert.rejects(drain(replay.play()), /not kept whole/);
});

test('a stream abandoned half-way is not complete', async () => {
  const replay = new PcmReplay(100);
  for await (const _ of replay.record(stream([4, 4, 4]))) break;
  assert.equal(replay.complete, false);
});
