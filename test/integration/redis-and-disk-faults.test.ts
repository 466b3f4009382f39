import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { health } from '../helpers/all-process.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { spawnProcess, waitUntil } from '../helpers/processes.js';
import { HEALTH_REQUEST, multipartBody, multipartPost, onOneConnection } from '../helpers/raw-http.js';
import { redisAnswers } from '../helpers/redis.js';
import { CLI, startService, type TestService } from '../helpers/service.js';

let svc: TestService;
let admin: Redis;
/** The test redis-server's --dir (test 1 removes it; the outage test, last, starts Redis there again and leaves it dead). */
let redisDataDir: string;

before(async () => {
  svc = await startService({
    workers: 1,
    env: { POOL_SIZE: '1', JOB_LOCK_MS: '3000', STALLED_INTERVAL_MS: '1000' },
  });
  admin = new Redis(svc.redis.url);
  admin.on('error', () => {}); // the outage test kills its Redis
  redisDataDir = await redisDir();
});
after(async () => {
  admin?.disconnect();
  await svc?.close();
});

async function redisDir(): Promise<string> {
  const [, dir] = (await admin.call('CONFIG', 'GET', 'dir')) as string[];
  return dir;
}

test('Redis refusing writes (MISCONF: cannot persist): the worker pauses instead of spinning, health names the cause, nothing is lost', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(2));
  assert.equal(up.status, 201);
  // 1. One job runs, one waits: the worker will want the second as soon as the first ends.
  const first = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    pitchSemitones: 1,
  });
  const second = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  await client.waitForState(first.id, 'active');

  // Counted from before the fault: the worker can meet it (its stalled-job check runs every
  // second) before this test has seen the failed snapshot itself.
  const faultAt = svc.workers[0].logs.length;
  try {
    // 2. Snapshots fail (their folder is gone), so Redis refuses every write with MISCONF.
    await rm(redisDataDir, { recursive: true, force: true });
    await admin.call('CONFIG', 'SET', 'save', '1 1');
    await admin.bgsave();
    await waitUntil(
      async () => (await admin.info('persistence')).includes('rdb_last_bgsave_status:err'),
      10_000,
      'the failed snapshot',
    );
    await assert.rejects(admin.set('probe', '1'), /MISCONF/);

    // 3. Health names the real cause.
    const h = await health(svc.baseUrl);
    assert.equal(h.status, 503);
    assert.equal(h.body.redis, 'refusing-writes');
    assert.match(h.body.reason, /MISCONF/);

    // 3b. Ordinary requests that write answer 503 with Retry-After (the dependency's state, not a
    // server bug: never 500), with a fixed text that names nothing internal.
    const refused = [
      await client.request('POST', '/api/jobs', { uploadId: up.body.upload.id, outputFormat: 'wav' }),
      await client.request('POST', '/api/session'),
      await client.request('DELETE', `/api/jobs/${second.id}`),
    ];
    for (const r of refused) {
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error, 'VC_ERR_UNAVAILABLE');
      assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
      assert.doesNotMatch(r.body.message, /MISCONF|redis|\//i);
    }

    // 4. The worker pauses its lanes (once), and logs a handful of lines, not thousands.
    const logs = svc.workers[0].logs;
    await waitUntil(
      () => logs.slice(faultAt).some((l) => l.msg === 'job lanes paused: Redis refuses writes'),
      60_000,
      () =>
        `the lanes to pause (worker log since the fault: ${logs
          .slice(faultAt)
          .map((l) => l.msg)
          .join(' | ')})`,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const during = logs.slice(faultAt);
    assert.ok(during.length < 40, `${during.length} log lines during the fault`);
    assert.equal(during.filter((l) => l.msg === 'job lanes paused: Redis refuses writes').length, 1);
  } finally {
    // 5. The operator fixes persistence: a test write passes and the lanes resume.
    await admin.call('CONFIG', 'SET', 'save', '');
  }
  await waitUntil(
    () => svc.workers[0].logs.some((l) => l.msg === 'job lanes resumed: Redis accepts writes again'),
    15_000,
    'the lanes to resume',
  );
  // 6. Both jobs complete: nothing was lost.
  assert.equal((await client.waitForJob(first.id, 60_000)).state, 'completed');
  assert.equal((await client.waitForJob(second.id, 60_000)).state, 'completed');
  assert.equal((await health(svc.baseUrl)).status, 200);
});

test('a full log disk does not take the API down; below MIN_FREE_DISK_BYTES uploads are refused with 507; SIGTERM still exits', async () => {
  const port = await freePort();
  // stdout is /dev/full: every log write fails with ENOSPC.
  const full = openSync('/dev/full', 'w');
  const started = spawnProcess(process.execPath, [CLI, 'api'], {
    env: {
      ...svc.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DRAIN_MS: '0',
      // More than any disk here has free: the refusal path, measured on the real volume.
      MIN_FREE_DISK_BYTES: String(2 ** 52),
    },
    stdout: full,
  });
  closeSync(full);
  const api = started.process;
  const stderr = () => started.output();
  const exited = started.exited.then(({ code }) => code);
  const base = `http://127.0.0.1:${port}`;
  try {
    // 1. It starts and serves although not one log line can be written.
    await waitUntil(
      async () => (await health(base)).status === 200 || api.exitCode !== null,
      20_000,
      'the API',
    );
    assert.equal(api.exitCode, null, `the API died: ${stderr()}`);
    const client = await ApiClient.anonymous(base);

    // 2. Writes are refused before anything is stored: 507 with a clear code and no detail.
    const refused = await client.upload(humanSpeech(1));
    assert.equal(refused.status, 507);
    assert.equal(refused.body.error, 'VC_ERR_INSUFFICIENT_STORAGE');
    assert.doesNotMatch(refused.body.message, /\//);
    const ws = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'uploads');
    assert.deepEqual(await readdir(ws).catch(() => []), []);
    const job = await client.request('POST', '/api/jobs', { uploadId: 'u'.repeat(12), outputFormat: 'wav' });
    assert.equal(job.status, 507);
    assert.equal((await client.request('GET', '/api/jobs')).status, 200, 'reads still work');

    // 3. It said once that logging fails, and SIGTERM still ends it, promptly.
    assert.match(stderr(), /log output failing/);
    api.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('hung'), 15_000))]);
    assert.equal(code, 0);
  } finally {
    await started.kill();
  }
});

test('an upload that meets a full volume mid-body answers 507 and leaves its connection usable or closed, never stuck', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  // 1. The user's uploads folder is a 256 KiB tmpfs: the 1.6 MB upload fills it mid-body, after
  //    the free-space check (the data volume itself has room).
  const dir = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'uploads');
  await mkdir(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
  try {
    const body = multipartBody([
      { disposition: 'form-data; name="file"; filename="a.wav"', data: readFileSync(humanSpeech(1)) },
    ]);
    const upload = multipartPost('/api/uploads', client.session?.token ?? '', body);
    // 2. The upload and then, as a keep-alive client (a browser, HAProxy) does, the next request
    //    on the same connection.
    const [first, second] = await onOneConnection(
      Number(new URL(svc.baseUrl).port),
      [upload, HEALTH_REQUEST],
      8000,
    );
    assert.ok(first, 'the upload was not answered');
    assert.match(first, /^HTTP\/1\.1 507 /, first);
    assert.match(first, /VC_ERR_INSUFFICIENT_STORAGE/);
    // 3. The connection is not left holding an unread body: either the server said it closes it
    //    (the client opens a new one) or it answers the next request. Not silence until the
    //    keep-alive timeout (the chaos suite's 60 s "API down" after a full disk).
    const closes = /\r\nconnection: close\r\n/i.test(first);
    assert.ok(closes || second !== null, 'the next request on the connection was not answered within 8 s');
    if (!closes) assert.match(second ?? '', /^HTTP\/1\.1 200 /);
    // 4. Nothing half-written stays behind.
    assert.deepEqual(await readdir(dir), []);
  } finally {
    execFileSync('umount', ['-l', dir]);
  }
});

test('after a 20 s Redis outage, API and worker are back within the bounded reconnect delay (≤ 1 s), not BullMQ’s 20 s', async () => {
  // 1. Redis dies and stays away long enough for exponential back-off to reach its ceiling.
  const { port } = svc.redis;
  const dir = redisDataDir;
  await mkdir(dir, { recursive: true });
  const old = svc.redis.process;
  const gone = new Promise((r) => old.once('exit', r));
  old.kill('SIGKILL');
  await gone;
  await new Promise((r) => setTimeout(r, 20_000));

  // 2. It comes back on the same port (empty: it kept nothing on disk).
  const revived = spawnProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { graceMs: 0 },
  );
  try {
    await waitUntil(() => redisAnswers(port), 10_000, 'the new redis-server');
    const back = Date.now();
    // 3. Within a couple of seconds: a session, an upload, a job, and the worker takes it.
    await waitUntil(async () => (await health(svc.baseUrl)).status === 200, 5000, '/health 200');
    const client = await ApiClient.anonymous(svc.baseUrl);
    const up = await client.upload(humanSpeech(1));
    assert.equal(up.status, 201);
    const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
    await client.waitForJob(job.id, 30_000);
    const took = Date.now() - back;
    assert.ok(took < 8000, `a job went through ${took} ms after Redis came back`);
    // Every worker connection heard the outage through its own listener, none left it unhandled.
    const [worker] = svc.workers;
    const reported = new Set(
      worker.logs.filter((l) => l.msg === 'redis connection error').map((l) => String(l.connection)),
    );
    for (const name of ['vcfarm-worker-', 'vcfarm-worker-cancel-', 'vcfarm-worker-scale-'])
      assert.ok(reported.has(`${name}${worker.id}`), `${name}: ${[...reported].join(', ')}`);
    assert.doesNotMatch(worker.stderr.join(''), /Unhandled error event/);
  } finally {
    await revived.kill();
  }
});
