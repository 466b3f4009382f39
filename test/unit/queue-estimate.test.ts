import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeOf, workRate } from '../../src/queue/index.js';

const NOW = 10_000_000;
/** Jobs of `sec` seconds each, finished `agoSec` apart going back from now. */
const jobs = (secs: number[], agoSec = 60) =>
  secs.map((sec, i) => {
    const finishedOn = NOW - i * agoSec * 1000;
    return { processedOn: finishedOn - sec * 1000, finishedOn };
  });
/** A job running for `ranSec` so far, `progress` done. */
const running = (ranSec: number, progress: number) => ({ processedOn: NOW - ranSec * 1000, progress });
const eta = (position: number, rate: ReturnType<typeof workRate>) => placeOf('j', position, rate).etaSec;

test('the rate is work time: jobs of 1 and 3 s are 2 s a job, however long the workers idled between them', () => {
  for (const apart of [1, 60, 900]) {
    const r = workRate(jobs([1, 3], apart), [], NOW);
    assert.deepEqual([r.jobSec, r.slots, r.perMin, r.windowSec], [2, 1, 30, apart]);
    // Nothing runs: the next job starts at once, each after it one job's work later.
    assert.deepEqual([eta(1, r), eta(2, r), eta(4, r)], [0, 2, 6]);
  }
});

test('running jobs free their slots when their progress says: 10 s run at 25 % is 30 s to go', () => {
  const r = workRate(jobs([2, 2]), [running(10, 0.25), running(1, 0.5)], NOW);
  assert.equal(r.slots, 2);
  assert.equal(r.perMin, 60);
  assert.deepEqual(r.freeInSec, [1, 30]);
  // Slot B frees at 1 s and takes places 1, 2, 3 ... every 2 s; slot A frees only at 30 s.
  assert.deepEqual([eta(1, r), eta(2, r), eta(3, r), eta(15, r), eta(16, r)], [1, 3, 5, 29, 30]);
});

test('a running job with no progress yet counts as a typical job, or as long again as it ran', () => {
  assert.deepEqual(workRate(jobs([4, 4]), [running(1, 0)], NOW).freeInSec, [4]);
  assert.deepEqual(workRate(jobs([4, 4]), [running(9, 0)], NOW).freeInSec, [9]);
  assert.deepEqual(workRate(jobs([4, 4]), [running(9, 1)], NOW).freeInSec, [0]);
});

test('fewer than two jobs measured: no rate, no estimate', () => {
  const r = workRate(jobs([5]), [running(1, 0.5)], NOW);
  assert.equal(r.jobSec, null);
  assert.equal(r.perMin, 0);
  assert.equal(eta(1, r), null);
  assert.equal(eta(1, workRate([], [], NOW)), null);
});

test('waits are rounded up to whole seconds', () => {
  const r = workRate(jobs([0.3, 0.4]), [running(0.1, 0.5)], NOW);
  assert.deepEqual([eta(1, r), eta(2, r), eta(3, r)], [1, 1, 1]);
  assert.equal(eta(4, r), 2, '0.1 + 3 × 0.35 = 1.15');
});
