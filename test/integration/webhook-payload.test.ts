import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { buildServer } from '../../src/server.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';
import { RECEIVER_ENV, signatureValid, WebhookReceiver } from '../helpers/webhook-receiver.js';

const PUBLIC_URL = 'https://vc.example.test/farm';
let svc: TestService;
/** The one API instance that delivers webhooks here, with PUBLIC_URL and its log lines kept. */
let api: FastifyInstance;
let apiUrl: string;
const logs: Json[] = [];
const receiver = new WebhookReceiver();
let hook: string;

before(async () => {
  hook = await receiver.listen();
  svc = await startService({
    workers: 1,
    env: { ...RECEIVER_ENV },
  });
  // The helper's own API (silent) would deliver too: this file's instance takes its place.
  await svc.app.close();
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({ ...svc.env, PUBLIC_URL: `${PUBLIC_URL}/`, LOG_LEVEL: 'info' });
  api = await buildServer(config, svc.redis.url, pino({ level: 'info' }, sink));
  apiUrl = await api.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await api?.close();
  await svc?.close();
  await receiver.close();
});

test('a delivery carries one absolute, signed result link, in job.resultUrl and event.resultUrl alike', async () => {
  const client = await ApiClient.anonymous(apiUrl);
  const secret = (await client.request('POST', '/api/webhook/secret')).body.secret;
  assert.equal((await client.request('PUT', '/api/webhook', { url: `${hook}/ok` })).status, 200);
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  const job = await client.createJob({ uploadId, outputFormat: 'wav' });
  await receiver.waitFor(() => receiver.at('/ok').some((r) => r.body.job.id === job.id));
  const [delivery] = receiver.at('/ok').filter((r) => r.body.job.id === job.id);
  assert.ok(signatureValid(delivery.headers['vcfarm-signature'], delivery.raw, secret));
  const { event, job: view } = delivery.body;
  assert.equal(event.type, 'completed');
  assert.match(
    view.resultUrl,
    new RegExp(`^${PUBLIC_URL}/api/jobs/${job.id}/result\\?exp=\\d+&sig=[\\w-]+$`),
  );
  assert.equal(event.resultUrl, view.resultUrl, 'one form');
  // The link works without a token (against this instance: PUBLIC_URL is the proxy's address).
  const res = await fetch(`${apiUrl}${view.resultUrl.slice(PUBLIC_URL.length)}`);
  assert.equal(res.status, 200);
  assert.ok((await res.arrayBuffer()).byteLength > 1000);
});

test("a receiver's 500 is logged once per attempt as a failure, never as delivered", async () => {
  const client = await ApiClient.anonymous(apiUrl);
  await client.request('POST', '/api/webhook/secret');
  assert.equal((await client.request('PUT', '/api/webhook', { url: `${hook}/flaky` })).status, 200);
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  const job = await client.createJob({ uploadId, outputFormat: 'wav' });
  // 1. The receiver answers 500 twice, then 200.
  await receiver.waitFor(() => receiver.at('/flaky').filter((r) => r.body.job.id === job.id).length === 3);
  const deliveryId = receiver.at('/flaky').find((r) => r.body.job.id === job.id)?.body.id;
  const about = () => logs.filter((l) => l.deliveryId === deliveryId);
  for (let i = 0; i < 50 && !about().some((l) => l.msg === 'webhook delivered'); i++)
    await new Promise((r) => setTimeout(r, 100));
  // 2. Two warnings (each retried), then one "delivered" with 200 on the third attempt.
  assert.deepEqual(
    about().map((l) => [l.msg, l.level, l.status ?? l.err, l.attempt, l.retried]),
    [
      ['webhook delivery failed', 40, 'the receiver answered 500', 1, true],
      ['webhook delivery failed', 40, 'the receiver answered 500', 2, true],
      ['webhook delivered', 30, 200, 3, undefined],
    ],
  );
});

test('openapi.json describes the delivery body under webhooks', async () => {
  const doc = (await (await fetch(`${apiUrl}/api/openapi.json`)).json()) as Json;
  const post = doc.webhooks?.jobEvent?.post;
  assert.ok(post, 'webhooks.jobEvent.post');
  const schema = post.requestBody.content['application/json'].schema;
  assert.deepEqual(Object.keys(schema.properties).sort(), [
    'createdAt',
    'event',
    'eventId',
    'id',
    'job',
    'type',
  ]);
  assert.match(post.description, /vcfarm-signature/);
  // Every delivery this file received fits the schema's required fields.
  for (const r of receiver.received) for (const k of schema.required) assert.ok(k in r.body, k);
});
