import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech, silenceFlac } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

// QA s17, defect 7: a job cancelled while queued (the API removes it; no worker sees it) was
// counted nowhere. It is counted once, beside the running job a worker stopped: system stats
// (throughput and queue), the admin usage, the queue gauge and the terminal monitor.

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1, env: { POOL_SIZE: '1', ADMIN_TOKEN } });
});
after(async () => {
  await svc?.close();
});

async function cancelledGauge(): Promise<number | undefined> {
  const res = await fetch(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const m = /^vcfarm_queue_jobs\{state="cancelled"\} (\d+)$/m.exec(await res.text());
  return m ? Number(m[1]) : undefined;
}

test('a queued job cancelled and a running one cancelled count as two cancellations everywhere, once each', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const events = await client.openEvents();
  const up = await client.upload(humanSpeech(20));
  assert.equal(up.status, 201);
  const uploadId = up.body.upload.id as string;

  // One thread: the first job runs, the second waits.
  const running = await client.createJob({ uploadId, outputFormat: 'wav' });
  const queued = await client.createJob({ uploadId, outputFormat: 'wav' });
  await events.waitFor((m) => m.type === 'progress' && m.jobId === running.id, 120_000);
  assert.equal((await client.job(queued.id)).state, 'queued');

  const q = await client.request('DELETE', `/api/jobs/${queued.id}`);
  assert.equal(q.status, 200, JSON.stringify(q.body));
  assert.equal(q.body.job.state, 'cancelled');
  const r = await client.request('DELETE', `/api/jobs/${running.id}`);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  await events.waitFor((m) => m.type === 'cancelled' && m.jobId === running.id, 60_000);
  events.close();
  // Asking again changes nothing.
  await client.request('DELETE', `/api/jobs/${queued.id}`);

  const stats = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body;
  for (const window of stats.throughput)
    assert.deepEqual([window.window, window.failed, window.cancelled], [window.window, 0, 2]);
  assert.deepEqual([stats.queue.failed, stats.queue.cancelled], [0, 2]);

  const status = (await adminRequest(svc.baseUrl, 'GET', '/api/queue/status')).body;
  assert.deepEqual([status.counts.failed, status.counts.cancelled], [0, 2]);

  const usage = (await adminRequest(svc.baseUrl, 'GET', '/api/admin/usage')).body;
  const mine = usage.users.find((u: { userId: string }) => u.userId === client.session?.userId);
  assert.deepEqual([mine?.cancelled, mine?.failed, mine?.queued, mine?.active], [2, 0, 0, 0]);

  await waitUntil(
    async () => (await cancelledGauge()) === 2,
    10_000,
    'vcfarm_queue_jobs{state="cancelled"} 2',
  );

  const monitor = fileURLToPath(new URL('../../../scripts/monitor_multiuser.sh', import.meta.url));
  const { stdout } = await promisify(execFile)('bash', [monitor], {
    env: { ...process.env, VCFARM_URL: svc.baseUrl, ADMIN_TOKEN, MONITOR_ONCE: '1' },
  });
  assert.match(stdout, /QUEUE\s+waiting 0 .* failed 0\s+cancelled 2/);
  assert.match(stdout, /THROUGHPUT 1m: 0 done [^,]*, 0 failed, 2 cancelled/);

  // A removed record leaves the counts, as a removed finished job leaves BullMQ's sets.
  assert.equal((await client.request('DELETE', `/api/jobs/${queued.id}/record`)).status, 204);
  const after = (await adminRequest(svc.baseUrl, 'GET', '/api/admin/usage')).body;
  const mineAfter = after.users.find((u: { userId: string }) => u.userId === client.session?.userId);
  assert.equal(mineAfter?.cancelled, 1);
  const statsAfter = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body;
  assert.deepEqual([statsAfter.throughput[0].cancelled, statsAfter.queue.cancelled], [1, 1]);
});

// QA s18, item 1: a running job cancelled then removed left its id in the cancelled record, which the
// windows counted by score alone and subtracted from failures no longer including it: a later
// failure went missing from the windows, and the windows said more cancellations than the queue.
test("a removed cancelled job's record leaves the windows: a later failure is counted in each", async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const events = await client.openEvents();
  const up = await client.upload(humanSpeech(20));
  assert.equal(up.status, 201);
  // 1. A running job, cancelled, then removed for good.
  const running = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  await events.waitFor((m) => m.type === 'progress' && m.jobId === running.id, 120_000);
  assert.equal((await client.request('DELETE', `/api/jobs/${running.id}`)).status, 202);
  await events.waitFor((m) => m.type === 'cancelled' && m.jobId === running.id, 60_000);
  assert.equal((await client.request('DELETE', `/api/jobs/${running.id}/record`)).status, 204);

  const before = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body;
  for (const window of before.throughput)
    assert.equal(window.cancelled, before.queue.cancelled, `${window.window} cancelled`);

  // 2. A voice cloned from silence fails for good.
  const res = await client.cloneVoiceBytes(await readFile(silenceFlac(5)), 'silence.flac', 'silence');
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const failed = await events.waitFor((m) => m.type === 'failed' && m.jobId === res.body.job.id, 120_000);
  assert.equal((failed.error as { code?: string }).code, 'VC_ERR_NO_VOICE');
  events.close();

  // 3. Every window counts it, as the queue does; cancellations agree with the queue's.
  const stats = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body;
  assert.equal(stats.queue.failed, before.queue.failed + 1);
  for (const window of stats.throughput) {
    assert.equal(window.failed, stats.queue.failed, `${window.window} failed`);
    assert.equal(window.cancelled, stats.queue.cancelled, `${window.window} cancelled`);
  }
});
