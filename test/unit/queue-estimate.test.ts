import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeOf } from '../../src/queue/index.js';

test('a queued job waits its position over the recent rate; no rate, no estimate', () => {
  const rate = (perMin: number) => ({ perMin, windowSec: 300, finished: perMin * 5 });
  assert.deepEqual(placeOf('a', 1, rate(6)), { jobId: 'a', position: 1, etaSec: 10 });
  assert.deepEqual(placeOf('b', 4, rate(6)), { jobId: 'b', position: 4, etaSec: 40 });
  assert.equal(placeOf('c', 3, rate(0.4)).etaSec, 450);
  assert.equal(placeOf('d', 1, rate(7)).etaSec, 9, 'rounded up to whole seconds');
  assert.equal(placeOf('e', 2, rate(0)).etaSec, null);
});
