import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { connectRedis } from '../../src/redis/index.js';
import { type Upload, UploadStore, WorkspaceSweeper } from '../../src/workspace/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// The upload store keeps uploads' metadata in memory (issue 17: reading it from disk was most of
// POST /api/jobs' `upload` phase). Every answer must still be what the files say: two stores on
// one data folder stand for two API instances; files are removed behind a store's back as the
// sweeper or another instance would.

const LIMITS = { maxBytes: 1_000_000, maxDurationSec: 10, probeTimeoutMs: 10_000 };
const USER = 'u_uploadstoretest';
let dataDir: string;
let redis: TestRedis;

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-upload-store-'));
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const uploadsDir = () => path.join(dataDir, 'workspaces', USER, 'uploads');
const save = (store: UploadStore) =>
  store.save(USER, createReadStream(tinyWav(1, 8000)), 'speech.wav', LIMITS);
const notFound = { code: 'VC_ERR_NOT_FOUND' };

test('an upload is read the same from a store that saved it and from another one', async () => {
  const a = new UploadStore(dataDir);
  const b = new UploadStore(dataDir);
  const saved = await save(a);
  assert.deepEqual(await a.get(USER, saved.id), saved);
  assert.deepEqual(await b.get(USER, saved.id), saved);
  assert.equal(saved.filename, 'speech.wav');
  assert.ok(saved.durationSec > 0.9 && saved.durationSec < 1.1, String(saved.durationSec));
});

test('once known, the metadata is not read from disk again', async () => {
  const store = new UploadStore(dataDir);
  const saved = await save(store);
  // 1. The metadata file now says something else (it never changes in use: this shows the cache is used).
  await writeFile(
    path.join(uploadsDir(), `${saved.id}.json`),
    JSON.stringify({ ...saved, filename: 'other' }),
  );
  assert.equal((await store.get(USER, saved.id)).filename, 'speech.wav');
  // 2. A store that never saw it reads the file.
  assert.equal((await new UploadStore(dataDir).get(USER, saved.id)).filename, 'other');
});

test('an upload removed behind a store that knows it is not found there', async () => {
  const a = new UploadStore(dataDir);
  const b = new UploadStore(dataDir);
  const one = await save(a);
  const two = await save(a);
  await b.get(USER, one.id);
  await b.get(USER, two.id);
  // 1. Another instance removes one upload.
  await a.remove(USER, one.id);
  await assert.rejects(b.get(USER, one.id), notFound);
  // 2. Only the metadata file is gone (a sweep caught half-way): not found either, in both stores.
  await rm(path.join(uploadsDir(), `${two.id}.json`));
  await assert.rejects(b.get(USER, two.id), notFound);
  await assert.rejects(a.get(USER, two.id), notFound);
  // 3. Nor with only the metadata left.
  const three = await save(a);
  await rm(path.join(uploadsDir(), three.id));
  await assert.rejects(a.get(USER, three.id), notFound);
});

test("another user's upload id is not found, cached or not", async () => {
  const store = new UploadStore(dataDir);
  const saved = await save(store);
  await assert.rejects(store.get('u_someoneelse', saved.id), notFound);
});

test('with room for one, every upload is still found, read from disk when pushed out', async () => {
  const store = new UploadStore(dataDir, { cachedUploads: 1 });
  const ups: Upload[] = [await save(store), await save(store), await save(store)];
  for (const u of ups) assert.deepEqual(await store.get(USER, u.id), u);
  for (const u of ups.reverse()) assert.deepEqual(await store.get(USER, u.id), u);
});

test('options.cachedUploads is checked', () => {
  assert.throws(() => new UploadStore(dataDir, { cachedUploads: 0 }), /options\.cachedUploads/);
  assert.throws(() => new UploadStore(dataDir, { cachedUploads: 1.5 }), /options\.cachedUploads/);
});

test('a touched upload keeps its metadata through a sweep: both age from the last use', async () => {
  const store = new UploadStore(dataDir);
  const saved = await save(store);
  const file = path.join(uploadsDir(), saved.id);
  // 1. Both files were written an hour ago; the upload is used now.
  const hourAgo = new Date(Date.now() - 3_600_000);
  await Promise.all([file, `${file}.json`].map((f) => utimes(f, hourAgo, hourAgo)));
  await store.touch(USER, saved.id);
  for (const f of [file, `${file}.json`]) assert.ok(Date.now() - (await stat(f)).mtimeMs < 60_000, f);
  // 2. A sweep with a 10-minute TTL keeps both, and the upload is still usable.
  const conn = connectRedis(redis.url, 'upload-store-test', { warn: () => {} });
  try {
    const sweeper = new WorkspaceSweeper({
      dataDir,
      redis: conn,
      prefix: 'upload-store-test',
      log: pino({ level: 'silent' }),
      ttlsOf: async () => ({ uploadsSec: 600, outputsSec: 600, voicesSec: 600 }),
      filesInUse: async () => new Set(),
      retire: async () => true,
      intervalMs: 0,
      intakeDeadlineSec: 60,
    });
    await sweeper.sweepOnce();
  } finally {
    await conn.quit();
  }
  const left = await readdir(uploadsDir());
  assert.ok(left.includes(saved.id) && left.includes(`${saved.id}.json`), left.join(' '));
  assert.deepEqual(await new UploadStore(dataDir).get(USER, saved.id), saved);
});
