import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { type Config, loadConfig } from '../../src/config/index.js';
import type { PlanOverrides } from '../../src/plans/index.js';
import { buildServer } from '../../src/server.js';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { idempotentPost, jobCount } from '../helpers/idempotency.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

/**
 * A replayed answer (same Idempotency-Key, same body) is not a new submission: it is not counted
 * against the user's rate limits, and the job quota does not refuse it. Two API instances on one
 * Redis; no worker, so every job stays queued.
 */
let svc: TestService;
let second: FastifyInstance;
let urls: [string, string];
let config: Config;
before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  config = loadConfig({ ...svc.env, LOG_LEVEL: 'silent' });
  second = await buildServer(config, svc.redis.url, pino({ level: 'silent' }));
  urls = [svc.baseUrl, await second.listen({ port: 0, host: '127.0.0.1' })];
});
after(async () => {
  await second?.close();
  await svc?.close();
});

let usersMade = 0;

/** A user with an API key and these overrides of the free plan (each its own name: names are unique). */
async function userWith(overrides: PlanOverrides): Promise<{ client: ApiClient; uploadId: string }> {
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', {
    name: `retrier-${++usersMade}`,
    plan: 'free',
    overrides,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const client = new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
  const up = await client.upload(tinyWav(1));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return { client, uploadId: up.body.upload.id };
}

test('replays on either instance are not counted against the conversions rate limit', async () => {
  const { client, uploadId } = await userWith({ rateLimits: { conversions: { max: 2, windowSec: 600 } } });
  const body = { uploadId, outputFormat: 'mp3' };
  // 1. Two submissions, one per instance, use up the limit.
  const first = await idempotentPost(client, urls[0], '/api/jobs', body, 'retry-1');
  const other = await idempotentPost(client, urls[1], '/api/jobs', body, 'retry-2');
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(other.status, 202, JSON.stringify(other.body));
  // 2. A third, new submission is refused: the limit is live.
  const third = await idempotentPost(client, urls[0], '/api/jobs', body, 'retry-3');
  assert.equal(third.status, 429);
  assert.equal(third.body.error, 'VC_ERR_RATE_LIMITED');
  // 3. Retries of the two the client already has get their answers, on both instances, again and again.
  for (let i = 0; i < 3; i++) {
    for (const [base, key, answer] of [
      [urls[1], 'retry-1', first],
      [urls[0], 'retry-2', other],
    ] as const) {
      const again = await idempotentPost(client, base, '/api/jobs', body, key);
      assert.equal(again.status, 202, `${key} replay ${i}: ${JSON.stringify(again.body)}`);
      assert.equal(again.replayed, true);
      assert.equal(again.body.job.id, answer.body.job.id);
    }
  }
  assert.equal(await jobCount(client), 2);
});

test('a replay is not refused by the queued-jobs quota', async () => {
  const { client, uploadId } = await userWith({ quotas: { maxQueuedJobs: 1 } });
  const body = { uploadId, outputFormat: 'wav', pitchSemitones: 1 };
  const first = await idempotentPost(client, urls[0], '/api/jobs', body, 'quota-1');
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const refused = await idempotentPost(client, urls[1], '/api/jobs', body, 'quota-2');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error, 'VC_ERR_TOO_MANY_JOBS');
  const again = await idempotentPost(client, urls[1], '/api/jobs', body, 'quota-1');
  assert.equal(again.status, 202, JSON.stringify(again.body));
  assert.equal(again.replayed, true);
  assert.equal(again.body.job.id, first.body.job.id);
  assert.equal(await jobCount(client), 1);
});

test('keyed requests that are not replays count as without a key: refusals are given back, accepted jobs use the limit', async () => {
  const { client, uploadId } = await userWith({ rateLimits: { conversions: { max: 2, windowSec: 600 } } });
  const body = { uploadId, outputFormat: 'mp3' };
  // 1. A body the schema refuses, under a key: 400, and given back as without a key.
  const bad = await idempotentPost(client, urls[0], '/api/jobs', { uploadId, outputFormat: 'aiff' }, 'bad-1');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'VC_ERR_VALIDATION');
  // 2. A real job: counted (the first of two).
  const ok = await idempotentPost(client, urls[1], '/api/jobs', body, 'good-1');
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  // 3. Another body under the job's key is not a replay, nor work: 409, given back.
  const mismatch = await idempotentPost(
    client,
    urls[0],
    '/api/jobs',
    { ...body, pitchSemitones: 5 },
    'good-1',
  );
  assert.equal(mismatch.status, 409, JSON.stringify(mismatch.body));
  assert.equal(mismatch.body.error, 'VC_ERR_IDEMPOTENCY_MISMATCH');
  // 4. A second real job under a new key: counted (the second of two); a third is over the limit.
  const ok2 = await idempotentPost(client, urls[1], '/api/jobs', { ...body, pitchSemitones: 3 }, 'good-2');
  assert.equal(ok2.status, 202, JSON.stringify(ok2.body));
  const over = await idempotentPost(client, urls[0], '/api/jobs', { ...body, pitchSemitones: 4 }, 'good-3');
  assert.equal(over.status, 429, JSON.stringify(over.body));
  // 5. The replay still gets its answer.
  const again = await idempotentPost(client, urls[0], '/api/jobs', body, 'good-1');
  assert.equal(again.status, 202);
  assert.equal(again.replayed, true);
  assert.equal(await jobCount(client), 2);
});

test('a replayed upload takes no upload slot: at the limit of uploads in flight, a retry gets its answer', async () => {
  const { client } = await userWith({});
  const wav = readFileSync(tinyWav(2));
  const form = () => {
    const f = new FormData();
    f.append('file', new Blob([wav]), 'retried.wav');
    return f;
  };
  // 1. The upload the client will retry.
  const first = await idempotentPost(client, urls[0], '/api/uploads', form(), 'upload-1');
  assert.equal(first.status, 201, JSON.stringify(first.body));
  // 2. Every one of the user's slots taken, as uploads in flight on other instances hold them.
  const redis = new Redis(svc.redis.url);
  const slots = `${config.redisPrefix}:uploads:${client.session?.userId}`;
  try {
    for (let i = 0; i < config.uploadsPerUser; i++)
      await redis.zadd(slots, Date.now() + 60_000, `in-flight-${i}`);
    // 3. The limit is live: a new upload, keyed or not, is refused.
    const fresh = await idempotentPost(client, urls[1], '/api/uploads', form(), 'upload-2');
    assert.equal(fresh.status, 429, JSON.stringify(fresh.body));
    assert.equal(fresh.body.error, 'VC_ERR_TOO_MANY_UPLOADS');
    // 4. The retries of the upload it already has get its answer, on both instances.
    for (const base of urls) {
      const again = await idempotentPost(client, base, '/api/uploads', form(), 'upload-1');
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.replayed, true);
      assert.equal(again.body.upload.id, first.body.upload.id);
    }
    // 5. The refused key was given back: once a slot is free, it runs.
    await redis.zrem(slots, 'in-flight-0');
    const later = await idempotentPost(client, urls[1], '/api/uploads', form(), 'upload-2');
    assert.equal(later.status, 201, JSON.stringify(later.body));
    assert.notEqual(later.body.upload.id, first.body.upload.id);
    assert.equal(await redis.zcard(slots), config.uploadsPerUser - 1, 'the upload gave its slot back');
  } finally {
    await redis.del(slots);
    redis.disconnect();
  }
});
