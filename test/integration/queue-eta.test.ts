import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// A queued job's wait is the work ahead of it (recent jobs' processing time per place, shared by
// the jobs running), not the finishes per minute over the last 5 or 15 minutes: after two jobs
// of a second or less and an idle machine, that said 150 s per place.

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1, env: { POOL_SIZE: '1' } });
});
after(async () => {
  await svc?.close();
});

test('waits come from the processing time of real jobs, not from the minutes the workers idled', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const up = await user.upload(tinyWav(3, 16_000));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const uploadId = up.body.upload.id as string;
  // 1. Two pitch-only jobs run to the end: their start and finish times are the measure.
  const done = [];
  for (const pitchSemitones of [2, -2]) {
    const job = await user.createJob({ uploadId, outputFormat: 'wav', pitchSemitones });
    done.push(await user.waitForJob(job.id));
  }
  const seconds = done.map((j) => ((j.finishedAt ?? 0) - (j.startedAt ?? 0)) / 1000);
  assert.ok(
    seconds.every((s) => s > 0),
    `processing times ${seconds}`,
  );
  const jobSec = (seconds[0] + seconds[1]) / 2;
  // 2. The worker stops, so the next jobs wait; three are queued.
  await svc.workers[0].stop();
  const queued = [];
  for (const pitchSemitones of [1, 3, 5])
    queued.push((await user.createJob({ uploadId, outputFormat: 'wav', pitchSemitones })).id);
  // 3. Nothing runs: the first starts at once, each after it one job's work later.
  const res = await user.request('GET', '/api/queue');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { jobs, throughput } = res.body as {
    jobs: { jobId: string; position: number; etaSec: number | null }[];
    throughput: { perMin: number; jobSec: number; slots: number; windowSec: number };
  };
  assert.deepEqual(
    jobs.map((j) => j.jobId),
    queued,
  );
  assert.equal(throughput.slots, 1);
  assert.ok(
    Math.abs(throughput.jobSec - jobSec) < 1e-6,
    `${throughput.jobSec} s measured, ${jobSec} s in the views`,
  );
  assert.ok(Math.abs(throughput.perMin - 60 / jobSec) < 1e-6);
  for (const j of jobs) assert.equal(j.etaSec, Math.ceil((j.position - 1) * jobSec), `place ${j.position}`);
  // (The old estimate, two jobs finished in a 5-minute window, was 150 s per place.)
  // 4. A worker comes back and runs them: the places were real.
  svc.startWorker({ POOL_SIZE: '1' });
  for (const id of queued) assert.equal((await user.waitForJob(id, 120_000)).state, 'completed');
  assert.deepEqual((await user.request('GET', '/api/queue')).body.jobs, []);
});
