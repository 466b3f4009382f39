import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { connectRedis, type RedisClient } from '../../src/redis/index.js';
import {
  type Upload,
  UploadStore,
  UsageLedger,
  VoiceStore,
  WorkspaceSweeper,
  workspaceUsage,
} from '../../src/workspace/index.js';
import { ApiClient } from '../helpers/client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// The workspace usage kept in Redis (issue 17: the quota check was a scan of the workspace per
// job). Whatever happens, the ledger must come back to what the disk holds: after every recorded
// write at once, after a crash at the latest at the next reconcile. Two stores and two ledgers on
// one data folder and one Redis stand for two API instances; files are written and removed
// behind their backs as a dying worker, the sweeper or an operator would.

const LIMITS = { maxBytes: 1_000_000, maxDurationSec: 10, probeTimeoutMs: 10_000 };
const PREFIX = 'ledgertest';
let dataDir: string;
let redis: TestRedis;
let conn: RedisClient;
let userN = 0;

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-usage-ledger-'));
  redis = await startRedis();
  conn = connectRedis(redis.url, 'usage-ledger-test', { warn: () => {} });
});
after(async () => {
  await conn?.quit();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const newUser = () => `u_ledger${++userN}test`;
const instance = () => {
  const ledger = new UsageLedger(conn, PREFIX, dataDir);
  return { ledger, uploads: new UploadStore(dataDir, { ledger }), voices: new VoiceStore(dataDir, ledger) };
};
const save = (store: UploadStore, user: string, seconds = 1) =>
  store.save(user, createReadStream(tinyWav(seconds, 8000)), 'speech.wav', LIMITS);
/** What the ledger holds now, read raw (no rebuild); undefined when it is not built. */
async function ledgerOf(user: string): Promise<{ bytes: number; files: number } | undefined> {
  const [bytes, files] = await conn.hmget(`${PREFIX}:usage:${user}`, 'bytes', 'files');
  return bytes === null || files === null ? undefined : { bytes: Number(bytes), files: Number(files) };
}
async function disk(user: string): Promise<{ bytes: number; files: number }> {
  const { bytes, files } = await workspaceUsage(dataDir, user);
  return { bytes, files };
}
const sweeper = (ttlSec: number) =>
  new WorkspaceSweeper({
    dataDir,
    redis: conn,
    prefix: PREFIX,
    log: pino({ level: 'silent' }),
    intervalMs: 0,
    intakeDeadlineSec: 0,
    filesInUse: async () => new Set(),
    retire: async () => true,
    ttlsOf: async () => ({ uploadsSec: ttlSec, outputsSec: ttlSec, voicesSec: ttlSec }),
  });

test('a ledger not built yet is built from the disk at the first read', async () => {
  const user = newUser();
  const { ledger, uploads } = instance();
  // 1. Files arrive while nothing reads the usage: the ledger stays unbuilt (a write cannot build it).
  await save(uploads, user);
  await save(uploads, user);
  assert.equal(await ledgerOf(user), undefined);
  // 2. The first read scans once and keeps what it found.
  const want = await disk(user);
  assert.equal(want.files, 2);
  assert.deepEqual(await ledger.usage(user), want);
  assert.deepEqual(await ledgerOf(user), want);
  // 3. Lost (Redis restarted empty, or expired): rebuilt the same way.
  await conn.del(`${PREFIX}:usage:${user}`);
  assert.deepEqual(await ledger.usage(user), want);
});

test('uploads and voices are counted as they come and go, across two instances, without a rescan', async () => {
  const user = newUser();
  const a = instance();
  const b = instance();
  assert.deepEqual(await a.ledger.usage(user), { bytes: 0, files: 0 }); // built, empty
  // 1. Uploads through both instances at once, removed through the other one.
  const ups = await Promise.all([save(a.uploads, user), save(b.uploads, user, 2), save(a.uploads, user)]);
  assert.deepEqual(await ledgerOf(user), await disk(user));
  await Promise.all([b.uploads.remove(user, ups[0].id), a.uploads.remove(user, ups[1].id)]);
  assert.deepEqual(await ledgerOf(user), await disk(user));
  assert.equal((await disk(user)).files, 1);
  // 2. A voice: reference and metadata, a rename (metadata rewritten), its profile, its removal.
  const voice = await a.voices.saveReference(
    user,
    createReadStream(tinyWav(3, 8000)),
    'ref.wav',
    'Voice',
    'default',
    LIMITS,
  );
  assert.deepEqual(await ledgerOf(user), await disk(user));
  await b.voices.rename(user, voice.id, 'A much longer name than the first one');
  assert.deepEqual(await ledgerOf(user), await disk(user));
  await b.voices.remove(user, voice.id);
  assert.deepEqual(await ledgerOf(user), await disk(user));
  // 3. A refused intake (a reference too short) leaves nothing behind, on disk or in the ledger.
  await assert.rejects(
    a.voices.saveReference(user, createReadStream(tinyWav(1, 8000)), 'r.wav', 'V', 'default', LIMITS),
    { code: 'VC_ERR_VALIDATION' },
  );
  assert.deepEqual(await ledgerOf(user), await disk(user));
});

test('a file written but never counted (a worker that died before counting) is counted at the next reconcile', async () => {
  const user = newUser();
  const { ledger, uploads } = instance();
  await save(uploads, user);
  const before = await ledger.usage(user);
  // 1. An output renamed into place by a worker that died before it told the ledger.
  const outputs = path.join(dataDir, 'workspaces', user, 'outputs');
  await mkdir(outputs, { recursive: true });
  await writeFile(path.join(outputs, 'job-died-here.mp3'), Buffer.alloc(50_000));
  assert.deepEqual(await ledgerOf(user), before, 'nothing counted it yet');
  // 2. The sweeper (TTLs far away: it removes nothing) reconciles the workspace.
  assert.deepEqual(await sweeper(3600).sweepOnce(), []);
  assert.deepEqual(await ledgerOf(user), { bytes: before.bytes + 50_000, files: before.files + 1 });
  assert.deepEqual(await ledgerOf(user), await disk(user));
});

test('a file counted but never written (an API that died between counting and renaming) is dropped at the next reconcile', async () => {
  const user = newUser();
  const { ledger, uploads } = instance();
  await save(uploads, user);
  const truth = await ledger.usage(user);
  assert.deepEqual(truth, await disk(user));
  // 1. Counted before it appears, as an intake does, and then the process is gone.
  await ledger.record(user, [
    { folder: 'uploads', name: 'abandoned-upload-id', bytes: 40_000 },
    { folder: 'uploads', name: 'abandoned-upload-id.json', bytes: 300 },
  ]);
  assert.deepEqual(await ledgerOf(user), { bytes: truth.bytes + 40_300, files: truth.files + 1 });
  // 2. GET /api/workspace's reconcile (or the sweeper's) brings it back to the disk.
  await ledger.reconcile(user);
  assert.deepEqual(await ledgerOf(user), truth);
});

test('a reconcile whose scan a write may have missed is refused, and the write stands', async () => {
  const user = newUser();
  const { ledger, uploads } = instance();
  await ledger.usage(user);
  // 1. A reconcile reads the write count and scans an empty workspace.
  const gen = await ledger.generation(user);
  const stale = await workspaceUsage(dataDir, user);
  // 2. An upload is stored (and counted) meanwhile.
  await save(uploads, user);
  // 3. The stale scan is refused; the ledger keeps the upload.
  assert.equal(await ledger.apply(user, gen, stale), false);
  assert.deepEqual(await ledgerOf(user), await disk(user));
  assert.equal((await ledgerOf(user))?.files, 1);
  // 4. A scan with nothing between is applied.
  const gen2 = await ledger.generation(user);
  assert.equal(await ledger.apply(user, gen2, await workspaceUsage(dataDir, user)), true);
});

test('TTL expiry: the files the sweeper removes leave the ledger', async () => {
  const user = newUser();
  const { ledger, uploads } = instance();
  const ups: Upload[] = [await save(uploads, user), await save(uploads, user)];
  assert.equal((await ledger.usage(user)).files, 2);
  // 1. One upload is an hour old; the TTL is ten minutes.
  const file = uploads.pathOf(user, ups[0].id);
  const hourAgo = new Date(Date.now() - 3_600_000);
  await Promise.all([file, `${file}.json`].map((f) => utimes(f, hourAgo, hourAgo)));
  const removed = await sweeper(600).sweepOnce();
  assert.deepEqual(
    removed?.map((r) => r.name),
    [ups[0].id],
  );
  assert.deepEqual(await ledgerOf(user), await disk(user));
  assert.equal((await ledgerOf(user))?.files, 1);
});

test('many writers and reconciles at once: the ledger ends where the disk is, with no reconcile after them', async () => {
  const user = newUser();
  const a = instance();
  const b = instance();
  await a.ledger.usage(user);
  const outputs = path.join(dataDir, 'workspaces', user, 'outputs');
  await mkdir(outputs, { recursive: true });
  let writing = true;
  // 1. Reconciles run in a loop the whole time, as the sweeper and GET /api/workspace would.
  const reconciles = (async () => {
    let n = 0;
    while (writing) {
      await (n++ % 2 ? a : b).ledger.reconcile(user);
    }
    return n;
  })();
  // 2. Twelve "jobs" at once: each stores an upload, writes an output through a partial file as a
  //    worker does (rename, then sync), and half of them remove their upload again.
  const jobs = Array.from({ length: 12 }, async (_, i) => {
    const inst = i % 2 ? a : b;
    const up = await save(inst.uploads, user);
    const part = path.join(outputs, `.job${i}xxxxx.wav.1.part`);
    const final = path.join(outputs, `job${i}xxxxx.wav`);
    await writeFile(part, Buffer.alloc(10_000 + i * 1000));
    await rm(final, { force: true });
    await rename(part, final);
    await inst.ledger.sync(user, [
      { folder: 'outputs', name: path.basename(final) },
      { folder: 'outputs', name: path.basename(part) },
    ]);
    if (i % 2 === 0) await (i % 4 === 0 ? a : b).uploads.remove(user, up.id);
  });
  await Promise.all(jobs);
  writing = false;
  assert.ok((await reconciles) >= 1);
  // 3. No reconcile after the last write: what the writers recorded is the disk.
  const want = await disk(user);
  assert.equal(want.files, 6 + 12);
  assert.deepEqual(await ledgerOf(user), want);
});

test('through the service: uploads, a real conversion, result deletion and job removal keep the ledger equal to the disk', async () => {
  const svc = await startService({ env: { POOL_SIZE: '1', SWEEP_INTERVAL_SEC: '0' } });
  const raw = connectRedis(svc.redis.url, 'usage-ledger-svc', { warn: () => {} });
  try {
    const prefix = svc.env.REDIS_PREFIX ?? 'vcfarm';
    const user = await ApiClient.anonymous(svc.baseUrl);
    const userId = user.session?.userId ?? '';
    const held = async () => {
      const [bytes, files] = await raw.hmget(`${prefix}:usage:${userId}`, 'bytes', 'files');
      return { bytes: Number(bytes), files: Number(files) };
    };
    const onDisk = async () => {
      const u = await workspaceUsage(svc.dataDir, userId);
      return { bytes: u.bytes, files: u.files };
    };
    // 1. The upload's quota check builds the ledger; the upload is counted.
    const up = await user.upload(tinyWav(1, 16000));
    assert.equal(up.status, 201);
    assert.deepEqual(await held(), await onDisk());
    // 2. Two conversions; the worker counts each output before the job completes.
    const jobs = await Promise.all(
      ['mp3', 'wav'].map((outputFormat) =>
        user.createJob({ uploadId: up.body.upload.id, outputFormat, pitchSemitones: 2 }),
      ),
    );
    for (const j of jobs) assert.equal((await user.waitForJobEnd(j.id)).state, 'completed');
    assert.equal((await onDisk()).files, 3);
    assert.deepEqual(await held(), await onDisk());
    // 3. One result deleted, the other job removed with its result.
    assert.equal((await user.request('DELETE', `/api/jobs/${jobs[0].id}/result`)).status, 204);
    assert.deepEqual(await held(), await onDisk());
    assert.equal((await user.request('DELETE', `/api/jobs/${jobs[1].id}/record`)).status, 204);
    assert.deepEqual(await held(), await onDisk());
    assert.equal((await onDisk()).files, 1);
  } finally {
    await raw.quit();
    await svc.close();
  }
});
