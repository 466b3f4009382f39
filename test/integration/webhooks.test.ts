import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { JobEventLog, webhookFeedKeys } from '../../src/progress/index.js';
import { buildServer } from '../../src/server.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';
import { RECEIVER_ENV, signatureValid, WebhookReceiver } from '../helpers/webhook-receiver.js';

// The receiver listens on loopback, so this service allows private webhook hosts; a second
// instance on the same Redis keeps the default (refuse them) for the SSRF checks, under a prefix of
// its own: it would otherwise share the delivery queue, and refuse the loopback deliveries it took.
const ADMIN_TOKEN = 'webhooks-admin-token-0123456789abcdef';
let svc: TestService;
let strict: FastifyInstance;
let strictUrl: string;
const receiver = new WebhookReceiver();
let hook: string;
before(async () => {
  hook = await receiver.listen();
  svc = await startService({
    workers: 1,
    env: { ...RECEIVER_ENV, ADMIN_TOKEN },
  });
  strict = await buildServer(
    loadConfig({ ...svc.env, WEBHOOK_ALLOW_PRIVATE: 'false', LOG_LEVEL: 'silent', REDIS_PREFIX: 'strict' }),
    svc.redis.url,
    pino({ level: 'silent' }),
  );
  strictUrl = await strict.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await strict?.close();
  await svc?.close();
  await receiver.close();
});

async function newUser(): Promise<{ client: ApiClient; secret: string; uploadId: string }> {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const made = await client.request('POST', '/api/webhook/secret');
  assert.equal(made.status, 201);
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  return { client, secret: made.body.secret, uploadId };
}

test('a default webhook gets exactly its events, signed; a job webhook replaces it for that job', async () => {
  const { client, secret, uploadId } = await newUser();
  const set = await client.request('PUT', '/api/webhook', { url: `${hook}/default`, events: ['completed'] });
  assert.equal(set.status, 200);
  assert.deepEqual((await client.request('GET', '/api/webhook')).body, {
    webhook: { url: `${hook}/default`, events: ['completed'] },
    secretSet: true,
  });

  // 1. A job under the default: one `completed` delivery, no progress, signed with the secret.
  const a = await client.createJob({ uploadId, outputFormat: 'wav' });
  await client.waitForJob(a.id);
  await receiver.waitFor(() => receiver.at('/default').some((r) => r.body.job.id === a.id));
  const forA = receiver.at('/default').filter((r) => r.body.job.id === a.id);
  assert.deepEqual(
    forA.map((r) => r.body.type),
    ['completed'],
  );
  const [delivery] = forA;
  assert.ok(signatureValid(delivery.headers['vcfarm-signature'], delivery.raw, secret));
  assert.ok(!signatureValid(delivery.headers['vcfarm-signature'], `${delivery.raw} `, secret));
  assert.equal(delivery.headers['vcfarm-delivery'], delivery.body.id);
  assert.equal(delivery.headers['vcfarm-event'], 'completed');
  assert.equal(delivery.body.job.state, 'completed');
  assert.match(delivery.body.job.resultUrl, /^\/api\/jobs\/.+\/result\?exp=\d+&sig=/);

  // 2. A job with its own webhook asking for progress and completed: those, and nothing at /default.
  const longUpload = (await client.upload(humanSpeech(2))).body.upload.id;
  const b = await client.createJob({
    uploadId: longUpload,
    outputFormat: 'mp3',
    pitchSemitones: 2,
    webhook: { url: `${hook}/job-b`, events: ['progress', 'completed'] },
  });
  await client.waitForJob(b.id);
  await receiver.waitFor(() => receiver.at('/job-b').some((r) => r.body.type === 'completed'));
  const forB = receiver.at('/job-b');
  const types = new Set(forB.map((r) => r.body.type));
  assert.deepEqual([...types].sort(), ['completed', 'progress']);
  assert.ok(
    forB.every((r) => r.body.job.id === b.id && signatureValid(r.headers['vcfarm-signature'], r.raw, secret)),
  );
  assert.equal(receiver.at('/default').filter((r) => r.body.job.id === b.id).length, 0);
  // Progress is throttled to one delivery per 2 s per job (creation times, not arrival times).
  const progress = forB.filter((r) => r.body.type === 'progress').map((r) => r.body.createdAt as number);
  for (let i = 1; i < progress.length; i++)
    assert.ok(
      progress[i] - progress[i - 1] >= 1900,
      `progress deliveries ${progress[i] - progress[i - 1]} ms apart`,
    );
  assert.equal(new Set(forB.map((r) => r.body.id)).size, forB.length, 'one delivery id per event');
});

test('a burst of events of several jobs and users: each wanted event is delivered once, no other', async (t) => {
  // The dispatcher looks up a whole read's webhooks at once and acknowledges the read together.
  // A burst written straight to the stream, as busy workers write it, puts many events of one
  // job and events of users without a webhook into the same reads.
  const a = await newUser();
  assert.equal(
    (await a.client.request('PUT', '/api/webhook', { url: `${hook}/burst`, events: ['completed'] })).status,
    200,
  );
  const jobA = await a.client.createJob({ uploadId: a.uploadId, outputFormat: 'wav' });
  const b = await newUser();
  const jobB = await b.client.createJob({ uploadId: b.uploadId, outputFormat: 'wav' });
  await a.client.waitForJob(jobA.id);
  await b.client.waitForJob(jobB.id);
  await receiver.waitFor(() => receiver.at('/burst').some((r) => r.body.job.id === jobA.id));
  const real = receiver.at('/burst').length;

  // 1. 150 events at once: A's job `completed` ×50 (wanted) and `progress` ×50 (not in its
  //    events), B's job `completed` ×50 (B has no webhook).
  const userA = a.client.session?.userId ?? '';
  const userB = b.client.session?.userId ?? '';
  const prefix = loadConfig(svc.env).redisPrefix;
  const redis = new Redis(svc.redis.url);
  t.after(() => redis.disconnect());
  const events = new JobEventLog(redis, prefix);
  const done = (jobId: string) => ({ type: 'completed' as const, jobId, resultUrl: '/r', realTimeFactor: 1 });
  const published = await Promise.all(
    Array.from({ length: 50 }, (_, i) => [
      events.publish(userA, done(jobA.id)),
      events.publish(userA, {
        type: 'progress',
        jobId: jobA.id,
        progress: i / 50,
        stage: 'convert',
      }),
      events.publish(userB, done(jobB.id)),
    ]).flat(),
  );
  const wanted = new Set(published.filter((_, k) => k % 3 === 0));

  // 2. Exactly A's 50 `completed`, each once, under its own event id; nothing else.
  await receiver.waitFor(() => receiver.at('/burst').length >= real + wanted.size);
  await new Promise((r) => setTimeout(r, 1000));
  const burst = receiver.at('/burst').slice(real);
  assert.equal(burst.length, wanted.size);
  assert.deepEqual(new Set(burst.map((r) => r.body.eventId)), wanted);
  assert.ok(burst.every((r) => r.body.type === 'completed' && r.body.job.id === jobA.id));
  assert.ok(burst.every((r) => signatureValid(r.headers['vcfarm-signature'], r.raw, a.secret)));
  // 3. Every entry of the burst was acknowledged and deleted from the dispatcher's feed (none left
  //    for a claim to deliver again).
  const feed = webhookFeedKeys(prefix).stream;
  const [pending] = (await redis.xpending(feed, 'webhooks')) as [number];
  assert.equal(pending, 0);
  assert.equal(await redis.xlen(feed), 0);
});

test('a receiver that answers 500 twice gets the same delivery a third time, then no more', async () => {
  const { client, secret, uploadId } = await newUser();
  const job = await client.createJob({ uploadId, outputFormat: 'wav', webhook: { url: `${hook}/flaky-1` } });
  await client.waitForJob(job.id);
  await receiver.waitFor(() => receiver.at('/flaky-1').length >= 3);
  const tries = receiver.at('/flaky-1');
  assert.equal(new Set(tries.map((r) => r.body.id)).size, 1, 'the same delivery id each time');
  assert.equal(new Set(tries.map((r) => r.raw)).size, 1, 'the same body each time');
  assert.ok(tries.every((r) => signatureValid(r.headers['vcfarm-signature'], r.raw, secret)));
  // Back-off: the second retry waited longer than the first (300 ms, then 600 ms).
  assert.ok(tries[1].at - tries[0].at >= 250, `first retry after ${tries[1].at - tries[0].at} ms`);
  assert.ok(tries[2].at - tries[1].at >= 550, `second retry after ${tries[2].at - tries[1].at} ms`);
  // Answered 200 on the third: no fourth attempt.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(receiver.at('/flaky-1').length, 3);
});

test('a rotated secret signs from then on; the old one no longer verifies', async () => {
  const { client, secret: old, uploadId } = await newUser();
  const rotated = await client.request('POST', '/api/webhook/secret');
  assert.notEqual(rotated.body.secret, old);
  const job = await client.createJob({ uploadId, outputFormat: 'wav', webhook: { url: `${hook}/rotated` } });
  await client.waitForJob(job.id);
  await receiver.waitFor(() => receiver.at('/rotated').length >= 1);
  const [r] = receiver.at('/rotated');
  assert.ok(signatureValid(r.headers['vcfarm-signature'], r.raw, rotated.body.secret));
  assert.ok(!signatureValid(r.headers['vcfarm-signature'], r.raw, old));
  // The secret is shown once: the webhook view only says that one exists.
  assert.equal(
    JSON.stringify((await client.request('GET', '/api/webhook')).body).includes(rotated.body.secret),
    false,
  );
});

test('cancelled: a job cancelled while it runs gets `cancelled` only', async () => {
  const { client } = await newUser();
  // 15 s of speech takes seconds to convert here: the cancel lands while it is queued or active.
  const uploadId = (await client.upload(humanSpeech(2))).body.upload.id;
  const job = await client.createJob({
    uploadId,
    outputFormat: 'wav',
    pitchSemitones: 3,
    webhook: { url: `${hook}/cancel`, events: ['cancelled'] },
  });
  await client.request('DELETE', `/api/jobs/${job.id}`);
  assert.equal((await client.waitForJob(job.id)).state, 'cancelled');
  await receiver.waitFor(() => receiver.at('/cancel').length >= 1);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(
    receiver.at('/cancel').map((r) => r.body.type),
    ['cancelled'],
  );
});

test('SSRF: without WEBHOOK_ALLOW_PRIVATE, loopback, private and link-local hosts are refused', async () => {
  const client = await ApiClient.anonymous(strictUrl);
  await client.request('POST', '/api/webhook/secret');
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  for (const url of [
    hook,
    'http://localhost:9/x',
    'http://10.1.2.3/x',
    'http://192.168.0.1/x',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]:8080/',
    'http://[::ffff:127.0.0.1]/',
    'http://[fd00::1]/',
    'ftp://example.com/',
  ]) {
    const put = await client.request('PUT', '/api/webhook', { url });
    assert.equal(put.status, 400, url);
    assert.equal(put.body.error, 'VC_ERR_VALIDATION');
    const job = await client.request('POST', '/api/jobs', {
      uploadId,
      outputFormat: 'wav',
      webhook: { url },
    });
    assert.equal(job.status, 400, url);
  }
  // A public address passes the check (nothing is sent to it here: no job uses it).
  assert.equal(
    (await client.request('PUT', '/api/webhook', { url: 'https://93.184.215.14/hook' })).status,
    200,
  );
});

test('a job webhook without a signing secret is refused before anything is queued', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  const res = await client.request('POST', '/api/jobs', {
    uploadId,
    outputFormat: 'wav',
    webhook: { url: `${hook}/x` },
  });
  assert.equal(res.status, 409);
  assert.match(res.body.message, /POST \/api\/webhook\/secret/);
  assert.equal((await client.request('GET', '/api/jobs')).body.jobs.length, 0);
});

test('a default webhook without a signing secret is refused as a job webhook is; with one it fires', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  // 1. No secret: 409 with the job webhook's code and message, and nothing stored.
  const refused = await client.request('PUT', '/api/webhook', { url: `${hook}/no-secret` });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error, 'VC_ERR_CONFLICT');
  assert.equal(refused.body.message, 'a webhook needs a signing secret first: POST /api/webhook/secret');
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  const perJob = await client.request('POST', '/api/jobs', {
    uploadId,
    outputFormat: 'wav',
    webhook: { url: `${hook}/x` },
  });
  assert.deepEqual(
    { status: perJob.status, error: perJob.body.error, message: perJob.body.message },
    { status: refused.status, error: refused.body.error, message: refused.body.message },
  );
  assert.deepEqual((await client.request('GET', '/api/webhook')).body, { webhook: null, secretSet: false });
  // 2. With a secret the same PUT is accepted and the default fires for the next job.
  const { secret } = (await client.request('POST', '/api/webhook/secret')).body;
  assert.equal((await client.request('PUT', '/api/webhook', { url: `${hook}/no-secret` })).status, 200);
  const job = await client.createJob({ uploadId, outputFormat: 'wav' });
  await client.waitForJob(job.id);
  await receiver.waitFor(() => receiver.at('/no-secret').some((r) => r.body.job.id === job.id));
  const [delivery] = receiver.at('/no-secret');
  assert.ok(signatureValid(delivery.headers['vcfarm-signature'], delivery.raw, secret));
});

test('a removed account takes its webhook secret and default webhook with it', async () => {
  const asAdmin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const made = await fetch(`${svc.baseUrl}/api/admin/users`, {
    method: 'POST',
    headers: asAdmin,
    body: JSON.stringify({ name: 'leaver', plan: 'free' }),
  });
  assert.equal(made.status, 201);
  const { apiKey, user } = (await made.json()) as { apiKey: string; user: { id: string } };
  const client = new ApiClient(svc.baseUrl, { token: apiKey, userId: user.id });
  assert.equal((await client.request('POST', '/api/webhook/secret')).status, 201);
  assert.equal((await client.request('PUT', '/api/webhook', { url: `${hook}/leaver` })).status, 200);
  const redis = new Redis(svc.redis.url);
  try {
    const keysOf = async () => (await redis.keys('*webhook*')).filter((k) => k.endsWith(`:${user.id}`));
    assert.equal((await keysOf()).length, 2, 'the secret and the default are stored');
    const index = webhookFeedKeys(loadConfig(svc.env).redisPrefix).users;
    assert.equal(await redis.sismember(index, user.id), 1, 'in the index of users with a default');
    const removed = await fetch(`${svc.baseUrl}/api/admin/users/${user.id}`, {
      method: 'DELETE',
      headers: { authorization: asAdmin.authorization },
    });
    assert.equal(removed.status, 200);
    assert.deepEqual(await keysOf(), []);
    assert.equal(await redis.sismember(index, user.id), 0);
  } finally {
    redis.disconnect();
  }
});
