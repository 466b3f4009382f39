import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { connectRedis } from '../../src/redis/index.js';
import { WorkspaceSweeper } from '../../src/workspace/index.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

const ADMIN_TOKEN = 'quota-admin-token-0123456789abcdef';
// Long enough that uploads outlive the steps before their jobs on a loaded machine (each upload is probed and decoded).
const TTL_SEC = 20;
let svc: TestService;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-quota-'));
  const plans = writePlans(dir, generousPlans(), (p) => {
    p.plans.free.quotas = {
      maxBytes: 1_000_000,
      maxFiles: 3,
      maxUploadBytes: 60_000,
      maxDurationSec: 2,
      maxQueuedJobs: 2,
    };
    p.plans.free.ttl = { uploadsSec: TTL_SEC, outputsSec: TTL_SEC, voicesSec: TTL_SEC };
  });
  // No worker at first, so jobs stay queued; one is started later.
  svc = await startService({
    workers: 0,
    env: { PLANS_FILE: plans, ADMIN_TOKEN, SWEEP_INTERVAL_SEC: '0.3', POOL_SIZE: '1' },
  });
});
after(async () => {
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

const files = (c: ApiClient, folder: string) =>
  readdir(path.join(svc.dataDir, 'workspaces', c.session?.userId ?? '', folder)).catch(() => [] as string[]);

test('quotas: upload size, duration (decoded), files, bytes and queued jobs — each with limit and usage', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const oneSec = await readFile(tinyWav(1, 8000)); // 16 KB
  // 1. Size and duration per file.
  const big = await user.uploadBytes(await readFile(tinyWav(4, 16000)), 'big.wav');
  assert.equal(big.status, 413);
  assert.equal(big.body.error, 'VC_ERR_TOO_LARGE');
  assert.match(big.body.message, /60000 bytes/);
  // A voice reference has the same cap.
  const bigVoice = await user.cloneVoiceBytes(await readFile(tinyWav(4, 16000)), 'big.wav', 'big');
  assert.equal(bigVoice.status, 413);
  assert.equal(bigVoice.body.error, 'VC_ERR_TOO_LARGE');
  const long = await user.uploadBytes(await readFile(tinyWav(3, 8000)), 'long.wav');
  assert.equal(long.status, 413);
  assert.equal(long.body.error, 'VC_ERR_AUDIO_TOO_LONG');
  assert.match(long.body.message, /limit is 2 s/);

  // 2. Files: three fit, the fourth is refused with "3 of 3".
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const up = await user.uploadBytes(oneSec, `f${i}.wav`);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    ids.push(up.body.upload.id);
  }
  const fourth = await user.uploadBytes(oneSec, 'f3.wav');
  assert.equal(fourth.status, 413);
  assert.equal(fourth.body.error, 'VC_ERR_QUOTA_EXCEEDED');
  assert.match(fourth.body.message, /3 of 3 files/);
  // Voice references live in the same workspace: the same quotas.
  const fourthVoice = await user.cloneVoiceBytes(oneSec, 'v.wav', 'v');
  assert.equal(fourthVoice.status, 413);
  assert.equal(fourthVoice.body.error, 'VC_ERR_QUOTA_EXCEEDED');
  assert.deepEqual(await files(user, 'voices'), []);

  // 3. Bytes: a user whose override allows 20 kB keeps the first 16 kB file, not the second.
  const created = await fetch(`${svc.baseUrl}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'small', plan: 'free', overrides: { quotas: { maxBytes: 20_000 } } }),
  });
  const small = (await created.json()) as Json;
  const smallUser = new ApiClient(svc.baseUrl, { token: small.apiKey, userId: small.user.id });
  assert.equal((await smallUser.uploadBytes(oneSec, 'a.wav')).status, 201);
  const over = await smallUser.uploadBytes(oneSec, 'b.wav');
  assert.equal(over.status, 413);
  assert.equal(over.body.error, 'VC_ERR_QUOTA_EXCEEDED');
  assert.match(over.body.message, /of 20000 bytes/);
  assert.equal((await files(smallUser, 'uploads')).length, 2, 'one upload and its metadata');

  // 4. Queued jobs: two wait (no worker yet), the third is 429 with limit and usage.
  const j1 = await user.createJob({ uploadId: ids[0], outputFormat: 'wav' });
  const j2 = await user.createJob({ uploadId: ids[0], outputFormat: 'flac' });
  const j3 = await user.request('POST', '/api/jobs', { uploadId: ids[1], outputFormat: 'wav' });
  assert.equal(j3.status, 429);
  assert.equal(j3.body.error, 'VC_ERR_TOO_MANY_JOBS');
  assert.match(j3.body.message, /2\/2/);
  assert.match(j3.body.message, /^2 jobs are queued; the plan allows 2 jobs queued at a time/);

  // 5. The workspace view shows usage against quota and the files with their ages.
  const view = await user.request('GET', '/api/workspace');
  assert.equal(view.status, 200);
  assert.equal(view.body.usage.files, 3);
  assert.equal(view.body.usage.queuedJobs, 2);
  assert.equal(view.body.quota.maxFiles, 3);
  assert.deepEqual(view.body.files.map((f: Json) => f.name).sort(), [...ids].sort());
  // QA s18, item 9: each upload with the file name it was sent with, not its id alone.
  assert.deepEqual(
    view.body.files.map((f: Json) => [f.name, f.filename]).sort(),
    ids.map((id, i) => [id, `f${i}.wav`]).sort(),
  );
  assert.ok(view.body.files.every((f: Json) => f.kind === 'upload' && f.ageSec >= 0 && f.bytes > 0));

  // 6. An upload a queued job needs cannot be deleted; an unused one can.
  assert.equal((await user.request('DELETE', `/api/uploads/${ids[0]}`)).status, 409);
  assert.equal((await user.request('DELETE', `/api/uploads/${ids[2]}`)).status, 204);
  assert.equal((await user.request('GET', `/api/uploads/${ids[2]}`)).status, 404);

  // 7. The sweeper removes the unused upload after its TTL and keeps the one queued jobs need.
  await waitUntil(async () => !(await files(user, 'uploads')).includes(ids[1]), 60_000, 'the sweeper');
  assert.ok((await files(user, 'uploads')).includes(ids[0]), 'kept: queued jobs need it');

  // 8. A worker runs the jobs; a result can be deleted; then the sweeper takes the rest.
  svc.startWorker();
  assert.equal((await user.waitForJob(j1.id)).state, 'completed');
  assert.equal((await user.waitForJob(j2.id)).state, 'completed');
  assert.equal((await user.request('DELETE', `/api/jobs/${j1.id}/result`)).status, 204);
  assert.equal((await user.download(j1.id)).status, 404);
  await waitUntil(
    async () => (await files(user, 'outputs')).length === 0 && (await files(user, 'uploads')).length === 0,
    60_000,
    'the sweeper to remove expired outputs and uploads',
  );
  assert.equal((await user.download(j2.id)).status, 404);

  // 9. The sweeps are counted in the instance's metrics: runs, files and their bytes.
  const metrics = await fetch(`${svc.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('vcfarm_sweeper_runs_total') >= 1);
  assert.ok(value('vcfarm_sweeper_removed_files_total') >= 3, text);
  assert.ok(value('vcfarm_sweeper_removed_bytes_total') > 1000);
});

test('the sweeper runs in one instance at a time (Redis lock) and reports what it removed', async () => {
  const redis = connectRedis(svc.redis.url, 'sweeper-test', { warn: () => {} });
  const user = await ApiClient.anonymous(svc.baseUrl);
  const up = await user.uploadBytes(await readFile(tinyWav(1, 8000)), 'x.wav');
  assert.equal(up.status, 201);
  const make = () =>
    new WorkspaceSweeper({
      dataDir: svc.dataDir,
      redis,
      prefix: 'locktest',
      log: pino({ level: 'silent' }),
      intervalMs: 0,
      intakeDeadlineSec: 300,
      filesInUse: async () => new Set(),
      retire: async () => true,
      ttlsOf: async () => ({ uploadsSec: 0, outputsSec: 0, voicesSec: 0 }),
    });
  const later = Date.now() + 5000;
  const [a, b] = await Promise.all([make().sweepOnce(later), make().sweepOnce(later)]);
  const ran = [a, b].filter((r) => r !== undefined);
  assert.equal(ran.length, 1, 'exactly one sweep ran');
  assert.ok(ran[0]?.some((r) => r.userId === user.session?.userId && r.name === up.body.upload.id));
  assert.deepEqual(await files(user, 'uploads'), []);
  await redis.quit();
});

test('the sweeper leaves the partial file of an intake alone until the request deadline, whatever the TTL', async () => {
  const redis = connectRedis(svc.redis.url, 'sweeper-part-test', { warn: () => {} });
  const user = await ApiClient.anonymous(svc.baseUrl);
  const userId = user.session?.userId ?? '';
  // A stand-in for an upload still being probed and decoded: its body is in, its `.part` no longer grows.
  const uploads = path.join(svc.dataDir, 'workspaces', userId, 'uploads');
  await mkdir(uploads, { recursive: true });
  const part = `${randomUUID()}.part`;
  await writeFile(path.join(uploads, part), Buffer.alloc(4096));
  const sweeper = new WorkspaceSweeper({
    dataDir: svc.dataDir,
    redis,
    prefix: 'parttest',
    log: pino({ level: 'silent' }),
    intervalMs: 0,
    intakeDeadlineSec: 300,
    filesInUse: async () => new Set(),
    retire: async () => true,
    ttlsOf: async () => ({ uploadsSec: 1, outputsSec: 1, voicesSec: 1 }),
  });
  try {
    await sweeper.sweepOnce(Date.now() + 60_000); // past the TTL, inside the request deadline
    assert.ok(
      (await files(user, 'uploads')).includes(part),
      'a partial file inside the request deadline stays',
    );
    await sweeper.sweepOnce(Date.now() + 301_000); // past both: an abandoned partial file goes
    assert.ok(!(await files(user, 'uploads')).includes(part), 'an abandoned partial file is removed');
  } finally {
    await redis.quit();
  }
});
