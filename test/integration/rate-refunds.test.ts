import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { ApiClient } from '../helpers/client.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { multipartBody, multipartPost } from '../helpers/raw-http.js';
import { rateCount } from '../helpers/redis.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// A request the server refuses for its own fault (malformed, not found, unsupported media, too
// large, too slow) gives back the upload or conversion it counted: only accepted work uses up those limits.
// The `api` limit still counts every request. Read from the counters in Redis.

let svc: TestService;
let dir: string;
let redis: Redis;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-refunds-'));
  const plans = writePlans(dir, generousPlans(), (p) => {
    p.plans.free.rateLimits.uploads = { max: 3, windowSec: 600 };
    p.plans.free.rateLimits.conversions = { max: 2, windowSec: 600 };
    p.plans.free.quotas.maxUploadBytes = 256 * 1024;
  });
  svc = await startService({ workers: 0, env: { PLANS_FILE: plans, UPLOAD_MIN_BYTES_PER_SEC: '2000' } });
  redis = new Redis(svc.redis.url);
});
after(async () => {
  redis?.disconnect();
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

const counted = (userId: string, cls: string): Promise<number> => rateCount(redis, userId, cls);

/** An upload whose body stops after its first 40 KB: cut off with 400 VC_ERR_UPLOAD_TOO_SLOW (UPLOAD_MIN_BYTES_PER_SEC). */
function stalledUpload(token: string): Promise<{ status: number; body: string }> {
  const body = multipartBody([
    { disposition: 'form-data; name="file"; filename="a.wav"', data: randomBytes(200 * 1024) },
  ]);
  const request = multipartPost('/api/uploads', token, body);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(new URL(svc.baseUrl).port), '127.0.0.1');
    let answer = '';
    sock.on('data', (b: Buffer) => {
      answer += b.toString('latin1');
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      resolve({ status, body: answer.split('\r\n\r\n').slice(1).join('') });
    });
    sock.write(request.subarray(0, request.length - 160 * 1024));
    setTimeout(() => reject(new Error('no answer in 20 s')), 20_000).unref();
  });
}

test('uploads and job POSTs refused with 400/404/413/415 (a body too slow included) use up no upload or conversion; accepted ones do', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const userId = user.session?.userId ?? '';
  const statuses: number[] = [];
  const expect = (status: number, res: { status: number; body: unknown }) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    statuses.push(res.status);
  };
  // More refusals than either limit allows: each one counted would leave no room below.
  const plain = await fetch(`${svc.baseUrl}/api/uploads`, {
    method: 'POST',
    headers: user.headers({ 'content-type': 'text/plain' }),
    body: 'plain text, no form',
  });
  expect(415, { status: plain.status, body: await plain.text() });
  const text = Buffer.from('this is not audio at all, only text pretending to be a wav file\n'.repeat(50));
  const notAudio = await user.uploadBytes(text, 'notes.wav');
  assert.ok([400, 415].includes(notAudio.status), JSON.stringify(notAudio.body));
  statuses.push(notAudio.status);
  expect(413, await user.uploadBytes(randomBytes(512 * 1024), 'big.wav'));
  const slow = await stalledUpload(user.session?.token ?? '');
  expect(400, slow);
  assert.equal(JSON.parse(slow.body).error, 'VC_ERR_UPLOAD_TOO_SLOW');
  expect(404, await user.request('POST', '/api/jobs', { uploadId: 'abcdefgh5678', outputFormat: 'wav' }));
  expect(400, await user.request('POST', '/api/jobs', { uploadId: 'abcdefgh5678', outputFormat: 'aac' }));
  expect(404, await user.request('POST', '/api/jobs', { uploadId: 'abcdefgh5679', outputFormat: 'mp3' }));
  assert.equal(await counted(userId, 'uploads'), 0, `after ${statuses}`);
  assert.equal(await counted(userId, 'conversions'), 0, `after ${statuses}`);
  assert.equal(await counted(userId, 'api'), statuses.length, 'every request counts against the API limit');

  // Accepted work counts, up to the limits as before.
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const up = await user.uploadBytes(await readFile(tinyWav(1, 8000)), `a${i}.wav`);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    ids.push(up.body.upload.id);
  }
  assert.equal(await counted(userId, 'uploads'), 3);
  assert.equal((await user.uploadBytes(await readFile(tinyWav(1, 8000)), 'a.wav')).status, 429);
  for (const id of ids.slice(0, 2))
    assert.equal(
      (await user.request('POST', '/api/jobs', { uploadId: id, outputFormat: 'wav' })).status,
      202,
    );
  assert.equal(await counted(userId, 'conversions'), 2);
  const over = await user.request('POST', '/api/jobs', { uploadId: ids[2], outputFormat: 'wav' });
  assert.equal(over.status, 429, JSON.stringify(over.body));
  assert.equal(await counted(userId, 'conversions'), 2, 'a 429 is given back where it is decided, once');
});

test('a refused request’s own x-ratelimit-remaining counts its refund: it equals what the workspace then reads', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  // conversions (2 per window) is the tightest limit, so the header shows it.
  const refused = await user.request('POST', '/api/jobs', { uploadId: 'abcdefgh5678', outputFormat: 'wav' });
  assert.equal(refused.status, 404, JSON.stringify(refused.body));
  assert.equal(await counted(user.session?.userId ?? '', 'conversions'), 0);
  const ws = await user.request('GET', '/api/workspace');
  const left = ws.body.rateLimits.conversions.remaining;
  assert.equal(left, 2, JSON.stringify(ws.body.rateLimits));
  assert.equal(
    refused.headers.get('x-ratelimit-remaining'),
    String(left),
    'the refused answer said one too few',
  );
  assert.equal(refused.headers.get('x-ratelimit-limit'), '2');
});

test('a server fault (5xx) spends no quota: its upload and API counts are given back, and its headers say so', async () => {
  // A service whose data volume reads as full: every upload and job is a 507 (a server-side refusal).
  const full = await startService({
    workers: 0,
    env: {
      PLANS_FILE: path.join(dir, 'plans.json'),
      MIN_FREE_DISK_BYTES: String(Number.MAX_SAFE_INTEGER),
    },
  });
  try {
    const user = await ApiClient.anonymous(full.baseUrl);
    const userId = user.session?.userId ?? '';
    const fullRedis = new Redis(full.redis.url);
    try {
      const answers = [];
      for (let i = 0; i < 4; i++)
        answers.push(await user.uploadBytes(await readFile(tinyWav(1, 8000)), `f${i}.wav`));
      for (const a of answers) assert.equal(a.status, 507, JSON.stringify(a.body));
      // Four uploads against a limit of three: none was counted, nor any API request.
      assert.equal(await rateCount(fullRedis, userId, 'uploads'), 0);
      assert.equal(await rateCount(fullRedis, userId, 'api'), 0);
      const last = await user.request('POST', '/api/jobs', { uploadId: 'abcdefgh5678', outputFormat: 'wav' });
      assert.equal(last.status, 507, JSON.stringify(last.body));
      assert.equal(last.headers.get('x-ratelimit-remaining'), '2', 'conversions: both left');
    } finally {
      fullRedis.disconnect();
    }
  } finally {
    await full.close();
  }
});
