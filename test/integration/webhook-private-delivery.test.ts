import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { buildServer } from '../../src/server.js';
import { WEBHOOK_QUEUE } from '../../src/webhooks/index.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';
import { RECEIVER_ENV, WebhookReceiver } from '../helpers/webhook-receiver.js';

// A webhook registered while WEBHOOK_ALLOW_PRIVATE=true, delivered after the API restarted
// without it: the block applies at delivery too, also to an IP-literal host (Node connects to a
// literal without calling the connection's `lookup`, where names are checked).
let svc: TestService;
let strict: FastifyInstance | undefined;
const receiver = new WebhookReceiver();
let hook: string;
before(async () => {
  hook = await receiver.listen();
  svc = await startService({
    workers: 1,
    env: { ...RECEIVER_ENV },
  });
});
after(async () => {
  await strict?.close();
  await svc?.close();
  await receiver.close();
});

test('a loopback IP-literal webhook registered under WEBHOOK_ALLOW_PRIVATE gets nothing once it is off', async () => {
  // 1. Allowed: the default webhook on 127.0.0.1 is set and a job's `completed` reaches it.
  const client = await ApiClient.anonymous(svc.baseUrl);
  assert.equal((await client.request('POST', '/api/webhook/secret')).status, 201);
  assert.equal((await client.request('PUT', '/api/webhook', { url: `${hook}/literal` })).status, 200);
  const first = await client.createJob({
    uploadId: (await client.upload(tinyWav(1))).body.upload.id,
    outputFormat: 'wav',
  });
  await client.waitForJob(first.id);
  await receiver.waitFor(() => receiver.at('/literal').length === 1);

  // 2. The API restarts without WEBHOOK_ALLOW_PRIVATE (same Redis: the session and webhook stay).
  await svc.app.close();
  const config = loadConfig({ ...svc.env, WEBHOOK_ALLOW_PRIVATE: 'false', LOG_LEVEL: 'silent' });
  strict = await buildServer(config, svc.redis.url, pino({ level: 'silent' }));
  const again = new ApiClient(await strict.listen({ port: 0, host: '127.0.0.1' }), client.session);
  // New registrations of it are refused, as before this fix.
  assert.equal((await again.request('PUT', '/api/webhook', { url: `${hook}/literal` })).status, 400);

  // 3. A job: its `completed` delivery fails for good (no retries: a literal cannot change),
  //    and the receiver gets nothing.
  const second = await again.createJob({
    uploadId: (await again.upload(tinyWav(1))).body.upload.id,
    outputFormat: 'wav',
  });
  await again.waitForJob(second.id);
  const queue = new Queue(WEBHOOK_QUEUE, { connection: { url: svc.redis.url }, prefix: config.redisPrefix });
  try {
    const deadline = Date.now() + 30_000;
    let failed = await queue.getFailed();
    while (failed.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      failed = await queue.getFailed();
    }
    assert.equal(failed.length, 1, 'one delivery failed');
    assert.match(failed[0].failedReason, /loopback, private or link-local/);
    assert.equal(failed[0].attemptsMade, 1, 'not retried');
    assert.match(failed[0].data.body, new RegExp(second.id));
  } finally {
    await queue.close();
  }
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(receiver.at('/literal').length, 1, 'only the delivery made while private hosts were allowed');
});
