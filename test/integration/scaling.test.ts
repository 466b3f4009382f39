import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { ADMIN_TOKEN, adminRequest, WorkerWatch } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
let watch: WorkerWatch;
let queue: Queue;
let workerId: string;
let tmp: string;
const cores = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1] ?? '0';
const coreCount = cores.split(',').reduce((n, p) => {
  const [a, b] = p.split('-').map(Number);
  return n + (b ?? a) - a + 1;
}, 0);

before(async () => {
  svc = await startService({ workers: 1, env: { ADMIN_TOKEN, POOL_SIZE: '2', SCALE_WAIT_MS: '3000' } });
  watch = new WorkerWatch(svc.redis.url);
  queue = new Queue('conversions', { connection: { url: svc.redis.url }, prefix: 'vcfarm' });
  workerId = svc.workers[0].id;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-scaling-'));
});
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
  await queue?.close();
  watch?.close();
  await svc?.close();
});

/** Four seconds of speech, mono (made once per file). */
function smallClip(): string {
  const file = path.join(tmp, 'small.wav');
  if (!existsSync(file))
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', humanSpeech(1), '-t', '4', '-ac', '1', file]);
  return file;
}

function threadCores(pid: number, tids: number[]): string[] {
  return tids.map(
    (tid) =>
      /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? '',
  );
}

async function assertPinned(expectedSize: number): Promise<void> {
  const s = await watch.waitFor(
    workerId,
    (x) => x.threadCount === expectedSize,
    10_000,
    `${expectedSize} threads`,
  );
  const lists = threadCores(
    s.pid,
    s.threads.map((t) => t.tid ?? 0),
  );
  for (const l of lists) assert.match(l, /^\d+$/, `each thread on one core, got ${lists.join(' ')}`);
  if (expectedSize <= coreCount) {
    assert.equal(new Set(lists).size, lists.length, `own cores: ${lists.join(' ')}`);
    return;
  }
  // More threads than cores: shared round-robin (counts differ by at most one), and reported.
  const perCore = new Map<string, number>();
  for (const l of lists) perCore.set(l, (perCore.get(l) ?? 0) + 1);
  const counts = [...perCore.values()];
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `balanced: ${lists.join(' ')}`);
  assert.ok(
    s.threads.some((t) => t.sharedCore),
    'sharing is reported',
  );
}

test('scale 2 → 4 → 1 → 3 under a stream of real conversions: no job lost, failed or run twice, never more busy than asked', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(smallClip());
  assert.equal(up.status, 201);
  await assertPinned(2);

  // 1. A stream of jobs, and a sampler of how many run at once against what is allowed.
  const jobs = [];
  for (let i = 0; i < 48; i++)
    jobs.push(
      await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 1 }),
    );
  let allowed = 2;
  let overshoot = 0;
  let maxSeen = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const active = await queue.getActiveCount();
      maxSeen = Math.max(maxSeen, active);
      if (active > allowed) overshoot = Math.max(overshoot, active);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  // 2. Each change: while it applies, up to max(old, new) may run; once applied, at most new.
  const scale = async (size: number) => {
    allowed = Math.max(allowed, size);
    let res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: size });
    assert.ok(res.status === 200 || res.status === 202, JSON.stringify(res.body));
    assert.equal(res.body.requested, size);
    const statusUrl = res.body.statusUrl;
    while (res.status === 202) {
      await new Promise((r) => setTimeout(r, 50));
      res = await adminRequest(svc.baseUrl, 'GET', statusUrl);
    }
    assert.deepEqual(
      res.body.workers.map((w: { size: number; applied: boolean }) => [w.size, w.applied]),
      [[size, true]],
    );
    allowed = size;
    await assertPinned(size);
  };
  const completedCount = async () => (await queue.getCompletedCount()) + (await queue.getFailedCount());
  for (const [size, after] of [
    [4, 6],
    [1, 18],
    [3, 24],
  ]) {
    await waitUntil(async () => (await completedCount()) >= after, 60_000, `${after} jobs done`);
    await scale(size);
  }

  // 3. Everything completes exactly once.
  for (const j of jobs) assert.equal((await client.waitForJob(j.id, 120_000)).state, 'completed');
  sampling = false;
  await sampler;
  assert.equal(overshoot, 0, `more jobs ran at once than allowed: ${overshoot}`);
  assert.ok(maxSeen >= 3, `the pool grew for real (max ${maxSeen} at once)`);
  // Each was taken from the queue once (BullMQ counts every start in Redis: a stalled or failed attempt
  // run again would count two).
  for (const j of jobs) assert.equal((await queue.getJob(j.id))?.attemptsStarted, 1, `${j.id} ran once`);
  const s = await watch.waitFor(workerId, (x) => x.size === 3, 5000, 'final size');
  assert.equal(s.threadCount, 3);
});

test('shrinking while every thread converts: the process survives and surplus threads leave only after their job', async () => {
  await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 2 });
  await watch.waitFor(workerId, (x) => x.size === 2 && x.threadCount === 2, 10_000, 'size 2');
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(20));
  const jobs = [
    await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3', pitchSemitones: 3 }),
    await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3', pitchSemitones: -3 }),
  ];
  await Promise.all(jobs.map((j) => client.waitForState(j.id, 'active')));
  // "active" in the queue comes a moment before the lane hands the job to its thread.
  await watch.waitFor(workerId, (x) => x.busy === 2, 10_000, 'both threads busy');

  // 1. Shrink to 1 while both threads are busy: accepted, but still draining.
  const res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 1 });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.workers[0].applied, false);
  assert.match(res.body.statusUrl, /^\/api\/system\/scale\/[0-9a-f-]{36}$/);
  const during = await watch.waitFor(workerId, (x) => x.size === 1, 5000, 'size 1 requested');
  assert.equal(during.threadCount, 2, 'the surplus thread is still finishing its job');
  assert.equal(during.busy, 2);
  assert.ok(
    during.threads.some((t) => t.retiring && t.busy),
    'the thread to leave is the one finishing its job',
  );

  // 2. Both jobs complete; only then is the shrink applied.
  for (const j of jobs) assert.equal((await client.waitForJob(j.id, 60_000)).state, 'completed');
  let status = await adminRequest(svc.baseUrl, 'GET', res.body.statusUrl);
  await waitUntil(
    async () => {
      status = await adminRequest(svc.baseUrl, 'GET', res.body.statusUrl);
      return status.status === 200;
    },
    5000,
    'the shrink to apply',
  );
  assert.deepEqual(status.body.workers[0].applied, true);
  // The retiring thread's job completed above (it was not cut short); only then did the thread leave.
  const final = await watch.waitFor(workerId, (x) => x.threadCount === 1, 5000, 'a thread left');
  assert.ok(!final.threads.some((t) => t.retiring));
  assert.equal(svc.workers[0].process.exitCode, null, 'the worker process is alive');
  await assertPinned(1);
});

test('growing while every thread converts: a new thread takes a waiting job before the running one ends', async () => {
  await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 1 });
  await watch.waitFor(workerId, (x) => x.size === 1 && x.threadCount === 1, 30_000, 'size 1');
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(20));
  // Minutes of speech through the model: the first job is still running when the pool grows.
  const long = { uploadId: up.body.upload.id, outputFormat: 'wav', voiceId: 'preset-espeak-m3' };
  const running = await client.createJob(long);
  await client.waitForState(running.id, 'active');
  const waiting = await client.createJob(long);
  assert.equal((await client.job(waiting.id)).state, 'queued');

  await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 2 });
  await client.waitForState(waiting.id, 'active', 10_000);
  assert.equal((await client.job(running.id)).state, 'active', 'the first job is still running');
  const s = await watch.waitFor(workerId, (x) => x.busy === 2, 5000, 'both threads busy');
  assert.equal(s.size, 2);

  for (const j of [running, waiting]) await client.request('DELETE', `/api/jobs/${j.id}`);
  for (const j of [running, waiting]) assert.equal((await client.waitForJob(j.id)).state, 'cancelled');
});

test('bad scale requests: 400 naming the field; no token 401; a user token 403', async () => {
  const bad: unknown[] = [
    {},
    { new_worker_count: '8' },
    { new_worker_count: 2.5 },
    { new_worker_count: 0 },
    { new_worker_count: -3 },
    { new_worker_count: 1e9 },
    { new_worker_count: null },
    { new_worker_count: 2, extra: true },
    { workers: 2 },
  ];
  for (const body of bad) {
    const res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error, 'VC_ERR_VALIDATION');
    assert.match(res.body.message, /new_worker_count|extra|workers/, res.body.message);
  }
  const malformed = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', '{"new_worker_count": ');
  assert.equal(malformed.status, 400);
  const unknownWorker = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', {
    new_worker_count: 2,
    worker_id: 'nope',
  });
  assert.equal(unknownWorker.status, 404);

  const user = await ApiClient.anonymous(svc.baseUrl);
  for (const [method, url] of [
    ['POST', '/api/system/scale'],
    ['GET', '/api/system/stats'],
    ['GET', '/api/queue/status'],
  ]) {
    const body = method === 'POST' ? { new_worker_count: 2 } : undefined;
    assert.equal(
      (await adminRequest(svc.baseUrl, method, url, body, '')).status,
      401,
      `${url} without token`,
    );
    const asUser = await adminRequest(svc.baseUrl, method, url, body, user.session?.token);
    assert.equal(asUser.status, 403, `${url} with a user token`);
    assert.equal(asUser.body.error, 'VC_ERR_FORBIDDEN');
  }
});

test('stats and queue status describe workers, threads, jobs and throughput', async () => {
  // Its own job and its own manual scale (the tests above may not have run).
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(smallClip());
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 1 });
  assert.equal((await client.waitForJob(job.id, 60_000)).state, 'completed');
  const scaled = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 1 });
  assert.ok(scaled.status === 200 || scaled.status === 202, JSON.stringify(scaled.body));
  // The heartbeat counts the job within a second.
  await watch.waitFor(workerId, (x) => x.jobsDone >= 1, 5000, 'the job in the heartbeat');
  const stats = await adminRequest(svc.baseUrl, 'GET', '/api/system/stats');
  assert.equal(stats.status, 200);
  const w = stats.body.workers[0];
  assert.equal(w.id, workerId);
  for (const key of [
    'host',
    'pid',
    'size',
    'busy',
    'threads',
    'jobsDone',
    'jobsFailed',
    'meanRealTimeFactor',
    'cpuPercent',
    'rssBytes',
    'uptimeSec',
    'autoscale',
  ]) {
    assert.ok(key in w, `worker stats have ${key}`);
  }
  assert.ok(w.jobsDone >= 1, `jobs done: ${w.jobsDone}`);
  assert.ok(w.meanRealTimeFactor > 1);
  assert.ok(w.rssBytes > 10_000_000);
  assert.equal(typeof w.threads[0].core, 'number');
  assert.equal(stats.body.throughput.length, 3);
  assert.ok(stats.body.throughput[0].completed >= 1);
  assert.equal(stats.body.autoscale.enabled, false, 'a manual scale pins the size');
  assert.ok(w.autoscale.pinnedByManualScale);

  const q = await adminRequest(svc.baseUrl, 'GET', '/api/queue/status');
  assert.equal(q.status, 200);
  assert.ok(q.body.counts.completed >= 1);
  assert.equal(q.body.counts.waiting, 0);
  assert.equal(q.body.oldestWaitingAgeSec, null);

  // The terminal monitor renders the same figures, run from another folder.
  // Asynchronously: the API it queries runs in this process.
  const monitor = fileURLToPath(new URL('../../../scripts/monitor_multiuser.sh', import.meta.url));
  const { stdout: out } = await promisify(execFile)('bash', [monitor], {
    cwd: '/',
    env: { ...process.env, VCFARM_URL: svc.baseUrl, ADMIN_TOKEN, MONITOR_ONCE: '1' },
  });
  assert.match(out, new RegExp(`${workerId}\\s+pid \\d+\\s+size \\d`));
  // Audio seconds per second of work is a speed, named as one.
  assert.match(out, /speed [\d.]+× real time/);
  assert.match(out, /QUEUE\s+waiting 0/);
  assert.match(out, /THROUGHPUT 1m: \d+ done/);
});
