import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeOf, type WorkClass, workRate } from '../../src/queue/index.js';

const NOW = 10_000_000;
/** Pitch jobs of `sec` seconds each on `audioSec` of audio, finished `agoSec` apart going back from now. */
const jobs = (secs: number[], agoSec = 60, audioSec = 1, workClass: WorkClass = 'pitch') =>
  secs.map((sec, i) => {
    const finishedOn = NOW - i * agoSec * 1000;
    return { processedOn: finishedOn - sec * 1000, finishedOn, audioSec, workClass };
  });
/** A job running for `ranSec` so far, `progress` done (its audio unknown: a typical job). */
const running = (ranSec: number, progress: number, audioSec = 0, workClass: WorkClass = 'pitch') => ({
  processedOn: NOW - ranSec * 1000,
  progress,
  audioSec,
  workClass,
});
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

test("a waiting job's work is its audio length times the rate measured per second of audio", () => {
  // Two 10 s pitch jobs took 2 s each: 0.2 s per second of audio. Nothing runs.
  const waiting = [195, 10, 195].map((audioSec) => ({ audioSec, workClass: 'pitch' as const }));
  const r = workRate(jobs([2, 2], 60, 10), [], NOW, waiting);
  assert.equal(r.secPerAudioSec, 0.2);
  assert.deepEqual(r.lineSec, [39, 2, 39]);
  assert.deepEqual([eta(1, r), eta(2, r), eta(3, r), eta(4, r)], [0, 39, 41, 80]);
  // Past the waiting jobs read, each counts as their mean (80 / 3 s).
  assert.equal(eta(5, r), Math.ceil(80 + 80 / 3));
});

test('each kind of job has its own rate; a kind not measured takes the rate of all', () => {
  const samples = [...jobs([1, 1], 60, 10, 'pitch'), ...jobs([20, 20], 60, 10, 'voice')];
  const waiting = [
    { audioSec: 30, workClass: 'voice' as const },
    { audioSec: 30, workClass: 'pitch' as const },
    { audioSec: 30, workClass: 'clone' as const },
  ];
  const r = workRate(samples, [running(5, 0, 30, 'voice')], NOW, waiting);
  // Voice 2 s per second of audio, pitch 0.1, all kinds 42 / 40 = 1.05.
  assert.deepEqual(r.lineSec, [60, 3, 31.5]);
  // The running voice job has no progress yet: its whole work, 60 s, is ahead.
  assert.deepEqual(r.freeInSec, [60]);
  assert.deepEqual([eta(1, r), eta(2, r), eta(3, r)], [60, 120, 123]);
});

test('a wait that is a whole number of seconds stays that number: no float noise from adding up works', () => {
  // 0.61 s a job: 200 jobs ahead are 122 s, which a sum of 200 floats overshoots by a hair.
  const r = workRate(jobs([0.61, 0.61]), [], NOW);
  for (const p of [101, 201, 501]) assert.equal(eta(p, r), Math.ceil((p - 1) * 0.61 - 1e-9), `place ${p}`);
});
