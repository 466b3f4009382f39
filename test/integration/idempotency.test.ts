import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { buildServer } from '../../src/server.js';
import { ApiClient } from '../helpers/client.js';
import { idempotentPost, jobCount } from '../helpers/idempotency.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Two API instances on one Redis; no worker: every job stays queued, which is all this needs.
let svc: TestService;
let second: FastifyInstance;
let urls: [string, string];
before(async () => {
  // Three concurrent duplicates of one form are three uploads in flight until the idempotency
  // check (which needs the body) sees them; slots are counted across instances, so allow three.
  svc = await startService({ workers: 0, env: { UPLOADS_PER_USER: '3' } });
  const config = loadConfig({ ...svc.env, LOG_LEVEL: 'silent' });
  second = await buildServer(config, svc.redis.url, pino({ level: 'silent' }));
  urls = [svc.baseUrl, await second.listen({ port: 0, host: '127.0.0.1' })];
});
after(async () => {
  await second?.close();
  await svc?.close();
});

function fileForm(bytes: Buffer, name: string, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([bytes]), name);
  return form;
}

test('the same key and body on two instances: one job, the first answer replayed', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  const body = { uploadId, outputFormat: 'mp3', pitchSemitones: 3 };
  const first = await idempotentPost(client, urls[0], '/api/jobs', body, 'order-1');
  assert.equal(first.status, 202);
  assert.equal(first.replayed, false);
  // Same body with its keys in another order, on the other instance.
  const again = await idempotentPost(
    client,
    urls[1],
    '/api/jobs',
    { pitchSemitones: 3, outputFormat: 'mp3', uploadId },
    'order-1',
  );
  assert.equal(again.status, 202);
  assert.equal(again.replayed, true);
  assert.deepEqual(again.body, first.body);
  assert.equal(await jobCount(client), 1);

  // Another body under the same key is refused; a new key makes a new job.
  const other = await idempotentPost(client, urls[1], '/api/jobs', { ...body, pitchSemitones: 4 }, 'order-1');
  assert.equal(other.status, 409);
  assert.equal(other.body.error, 'VC_ERR_IDEMPOTENCY_MISMATCH');
  const fresh = await idempotentPost(client, urls[0], '/api/jobs', body, 'order-2');
  assert.equal(fresh.status, 202);
  assert.notEqual(fresh.body.job.id, first.body.job.id);
  // Without a key nothing changes: each request is a job.
  assert.equal((await idempotentPost(client, urls[0], '/api/jobs', body)).status, 202);
  assert.equal(await jobCount(client), 3);
});

test('10 concurrent duplicates across two instances create exactly one job', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  const body = { uploadId, outputFormat: 'wav' };
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => idempotentPost(client, urls[i % 2], '/api/jobs', body, 'burst')),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(10).fill(202),
  );
  assert.equal(new Set(answers.map((a) => a.body.job.id)).size, 1);
  assert.equal(answers.filter((a) => !a.replayed).length, 1);
  assert.equal(await jobCount(client), 1);
});

test('keys are per user, and a refused first request leaves the key free', async () => {
  const a = await ApiClient.anonymous(svc.baseUrl);
  const b = await ApiClient.anonymous(svc.baseUrl);
  const wav = tinyWav(1);
  const upA = (await a.upload(wav)).body.upload.id;
  const upB = (await b.upload(wav)).body.upload.id;
  const ja = await idempotentPost(
    a,
    urls[0],
    '/api/jobs',
    { uploadId: upA, outputFormat: 'wav' },
    'shared-key',
  );
  const jb = await idempotentPost(
    b,
    urls[1],
    '/api/jobs',
    { uploadId: upB, outputFormat: 'wav' },
    'shared-key',
  );
  assert.equal(jb.status, 202);
  assert.equal(jb.replayed, false);
  assert.notEqual(jb.body.job.id, ja.body.job.id);

  // 1. A 404 (unknown upload) is not kept: the same key runs the request again.
  const missing = await idempotentPost(
    a,
    urls[0],
    '/api/jobs',
    { uploadId: 'nosuchupload1', outputFormat: 'wav' },
    'k2',
  );
  assert.equal(missing.status, 404);
  const rerun = await idempotentPost(
    a,
    urls[1],
    '/api/jobs',
    { uploadId: 'nosuchupload1', outputFormat: 'wav' },
    'k2',
  );
  assert.equal(rerun.status, 404, 'the same refused request is run again, not replayed');
  assert.equal(rerun.replayed, false);
  // 2. A key that is not printable ASCII is a 400.
  const bad = await idempotentPost(
    a,
    urls[0],
    '/api/jobs',
    { uploadId: upA, outputFormat: 'wav' },
    'x'.repeat(256),
  );
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'VC_ERR_VALIDATION');
});

test('uploads and voices: a retried form is one upload, another file under the key is a 409', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const one = await readFile(tinyWav(1));
  const two = await readFile(tinyWav(2));
  // FormData picks a new boundary for each request: the retry is still recognised.
  const first = await idempotentPost(client, urls[0], '/api/uploads', fileForm(one, 'a.wav'), 'up-1');
  const retry = await idempotentPost(client, urls[1], '/api/uploads', fileForm(one, 'a.wav'), 'up-1');
  assert.equal(first.status, 201);
  assert.equal(retry.status, 201);
  assert.equal(retry.replayed, true);
  assert.equal(retry.body.upload.id, first.body.upload.id);
  const other = await idempotentPost(client, urls[1], '/api/uploads', fileForm(two, 'a.wav'), 'up-1');
  assert.equal(other.status, 409);
  assert.equal(other.body.error, 'VC_ERR_IDEMPOTENCY_MISMATCH');
  const usage = (await client.request('GET', '/api/workspace')).body;
  assert.equal(usage.files.length, 1, JSON.stringify(usage.files));

  const ref = await readFile(tinyWav(4));
  const voices = await Promise.all(
    [0, 1, 0].map((i) =>
      idempotentPost(client, urls[i], '/api/voices', fileForm(ref, 'ref.wav', { name: 'Me' }), 'v-1'),
    ),
  );
  assert.deepEqual(
    voices.map((v) => v.status),
    [202, 202, 202],
  );
  assert.equal(new Set(voices.map((v) => v.body.voice.id)).size, 1);
  assert.equal((await client.request('GET', '/api/voices')).body.voices.length, 1);
});
