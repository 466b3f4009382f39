import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest, WorkerWatch } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { processesMatching, waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
before(async () => {
  // Short locks so that a job whose worker died is noticed within seconds, not 30 s.
  svc = await startService({
    workers: 2,
    env: { JOB_LOCK_MS: '2000', STALLED_INTERVAL_MS: '1000', POOL_SIZE: '1', ADMIN_TOKEN },
  });
});
after(async () => {
  await svc?.close();
});

async function outputsOf(userId: string): Promise<string[]> {
  return readdir(path.join(svc.dataDir, 'workspaces', userId, 'outputs')).catch(() => []);
}

test('cancelling an active job kills its ffmpeg processes and leaves no output', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const events = await client.openEvents();
  const up = await client.upload(humanSpeech(20));
  assert.equal(up.status, 201);
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3', pitchSemitones: 2 });

  // 1. Wait until it is converting and its ffmpeg processes exist.
  await events.waitFor((m) => m.type === 'progress' && m.jobId === job.id && (m.progress ?? 0) > 0.05);
  assert.ok(processesMatching(job.id).length > 0, 'the encoder of the job should be running');

  // 2. Cancel: accepted (the worker stops it between two chunks), the socket hears it when it is
  // applied, nothing of the job remains.
  const res = await client.request('DELETE', `/api/jobs/${job.id}`);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.job.state, 'active');
  assert.equal(res.headers.get('location'), `/api/jobs/${job.id}`);
  await events.waitFor((m) => m.type === 'cancelled' && m.jobId === job.id);
  assert.deepEqual(processesMatching(job.id), []);
  assert.deepEqual(processesMatching(up.body.upload.id), []);
  assert.deepEqual(await outputsOf(client.session?.userId ?? ''), []);
  assert.equal((await client.job(job.id)).state, 'cancelled');
  assert.equal((await client.download(job.id)).status, 404);
  events.close();

  // 3. One definition of failed: the stats count the cancellation apart, the queue and workers alike.
  const worker = async () => {
    const stats = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body;
    const sum = (k: 'jobsFailed' | 'jobsCancelled') =>
      stats.workers.reduce((n: number, w: Record<string, number>) => n + w[k], 0);
    return { stats, failed: sum('jobsFailed'), cancelled: sum('jobsCancelled') };
  };
  await waitUntil(async () => (await worker()).cancelled === 1, 10_000, 'the cancellation in the heartbeat');
  const { stats, failed } = await worker();
  assert.equal(failed, 0);
  assert.deepEqual([stats.queue.failed, stats.queue.cancelled], [0, 1]);
  assert.deepEqual([stats.throughput[0].failed, stats.throughput[0].cancelled], [0, 1]);
  // The worker's log too: the cancel is an info line of its own, not a warning that an attempt failed.
  const lines = svc.workers.flatMap((w) => w.logs).filter((l) => l.jobId === job.id);
  assert.deepEqual(
    lines.filter((l) => Number(l.level) >= 40).map((l) => l.msg),
    [],
  );
  assert.ok(
    lines.some((l) => l.msg === 'conversion cancelled' && l.reason === 'cancelled by the user'),
    JSON.stringify(lines.map((l) => l.msg)),
  );

  // 4. The worker survived and still converts (a short upload: any job that completes shows it; the
  // 150 s one above cost about 3 s more to convert again).
  const short = await client.upload(humanSpeech(1));
  assert.equal(short.status, 201);
  const next = await client.createJob({ uploadId: short.body.upload.id, outputFormat: 'wav' });
  assert.equal((await client.waitForJob(next.id)).state, 'completed');

  // 5. A cancel of a job that had completed cancels nothing, and says so (not a 200 as if it had);
  // the one cancelled above, asked again, is what was asked for: 200, cancelled.
  const late = await client.request('DELETE', `/api/jobs/${next.id}`);
  assert.deepEqual(
    [late.status, late.body],
    [409, { error: 'VC_ERR_JOB_FINISHED', message: 'the job had already completed: nothing to cancel' }],
  );
  assert.equal((await client.job(next.id)).state, 'completed');
  const again = await client.request('DELETE', `/api/jobs/${job.id}`);
  assert.deepEqual([again.status, again.body.job.state], [200, 'cancelled']);
});

test('cancelling a queued job removes it before it starts', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(20));
  // Two threads in all: the first two jobs occupy them, the third waits.
  const busy = [
    await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' }),
    await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' }),
  ];
  const waiting = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    priority: 'low',
  });
  await Promise.all(busy.map((j) => client.waitForState(j.id, 'active')));
  const res = await client.request('DELETE', `/api/jobs/${waiting.id}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.job.state, 'cancelled');
  for (const j of busy) await client.request('DELETE', `/api/jobs/${j.id}`);
  for (const j of [...busy, waiting]) assert.equal((await client.waitForJob(j.id)).state, 'cancelled');
  assert.deepEqual(await outputsOf(client.session?.userId ?? ''), []);
});

test('a worker killed with SIGKILL mid-job: the job is retried elsewhere, completes once, leaves no partial file', async (t) => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const userId = client.session?.userId ?? '';
  const up = await client.upload(humanSpeech(20));
  // Three minutes of speech through the model: seconds of work, long enough to kill it mid-way.
  const job = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'flac',
    voiceId: 'preset-espeak-m3',
  });

  // 1. Find the worker that runs it (the one whose heartbeat shows a busy thread: no other job runs) and
  // wait for its partial output.
  const watch = new WorkerWatch(svc.redis.url);
  t.after(() => watch.close());
  let victim: (typeof svc.workers)[number] | undefined;
  await waitUntil(
    async () => {
      for (const w of svc.workers) if (((await watch.stats(w.id))?.busy ?? 0) > 0) victim = w;
      return victim !== undefined;
    },
    20_000,
    'the job to start',
  );
  const survivor = svc.workers.find((w) => w !== victim);
  assert.ok(survivor);
  const doneBefore = (await watch.stats(survivor.id))?.jobsDone ?? 0;
  await waitUntil(
    async () => (await outputsOf(userId)).some((f) => f.startsWith(`.${job.id}.`) && f.endsWith('.part')),
    20_000,
    'the partial output file',
  );
  assert.equal((await client.job(job.id)).state, 'active', 'killed mid-conversion');

  // 2. Kill it hard, mid-conversion: its partial file stays behind.
  victim?.process.kill('SIGKILL');

  // 3. Another worker takes the job over after its lock expires; it completes exactly once.
  const done = await client.waitForJob(job.id, 90_000);
  assert.equal(done.state, 'completed', JSON.stringify(done.error));
  // The survivor counts it as done (its heartbeat, the numbers /api/system/stats shows).
  await watch.waitFor(survivor.id, (s) => s.jobsDone === doneBefore + 1, 10_000, 'the survivor to count it');
  // The new attempt removed the dead one's partial file before writing its own.
  const files = (await outputsOf(userId)).filter((f) => f.includes(job.id));
  assert.deepEqual(files, [`${job.id}.flac`]);
  const res = await client.download(job.id);
  assert.equal(res.status, 200);
  assert.ok(res.bytes.length > 1000);
});
