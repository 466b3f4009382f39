import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import {
  compareEventIds,
  eventStreamKey,
  JobEventLog,
  MAX_EVENTS,
  webhookFeedKeys,
} from '../../src/progress/index.js';
import { buildServer } from '../../src/server.js';
import { WebhookStore } from '../../src/webhooks/index.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';
import { signatureValid, WebhookReceiver } from '../helpers/webhook-receiver.js';

// The webhook dispatcher reads a feed of its own, fed by the publisher only with the events of
// users (and jobs) that have a webhook, and deletes an entry only once its delivery is queued.
// No worker: the jobs stay queued, which is all a delivery needs (the job's view).
let svc: TestService;
let redis: Redis;
let prefix: string;
const receiver = new WebhookReceiver();
let hook: string;
let restarted: FastifyInstance | undefined;
before(async () => {
  hook = await receiver.listen();
  svc = await startService({ workers: 0, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  redis = new Redis(svc.redis.url);
  prefix = loadConfig(svc.env).redisPrefix;
});
after(async () => {
  redis?.disconnect();
  await restarted?.close();
  await svc?.close();
  await receiver.close();
});

async function userWithJob(base: string): Promise<{ client: ApiClient; userId: string; jobId: string }> {
  const client = await ApiClient.anonymous(base);
  assert.equal((await client.request('POST', '/api/webhook/secret')).status, 201);
  const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
  const job = await client.createJob({ uploadId, outputFormat: 'wav' });
  return { client, userId: client.session?.userId ?? '', jobId: job.id };
}

const completed = (jobId: string) => ({
  type: 'completed' as const,
  jobId,
  resultUrl: `/api/jobs/${jobId}/result`,
  realTimeFactor: 1,
});

test('the feed gets only what a webhook may want: users with a default, jobs with their own', async (t) => {
  const scratch = new Redis(svc.redis.url);
  t.after(() => scratch.disconnect());
  // A prefix of its own, so the service's dispatcher does not empty this feed meanwhile.
  const p = 'feed-only';
  const keys = webhookFeedKeys(p);
  const log = new JobEventLog(scratch, p);
  const store = new WebhookStore(scratch, p);
  const progress = (jobId: string) => ({ type: 'progress' as const, jobId, progress: 0.5, stage: 'convert' });

  // 1. No webhook anywhere: the events stream gets the events (a stage before the first
  //    progress), the feed nothing.
  await log.publish('u-none', progress('j-none'));
  await log.publish('u-none', completed('j-none'));
  assert.equal(await scratch.xlen(eventStreamKey(p)), 3);
  assert.equal(await scratch.xlen(keys.stream), 0);

  // 2. A user with a default webhook: their progress and completed, never the stage event.
  await store.setDefault('u-hook', { url: `${hook}/x`, events: ['completed'] });
  const ids = [
    await log.publish('u-hook', progress('j-hook')),
    await log.publish('u-hook', completed('j-hook')),
  ];
  // 3. A job with its own webhook (the publisher knows it from the job's data).
  ids.push(await log.publish('u-none', completed('j-own'), { jobWebhook: true }));
  // 4. A removed default: that user's events stop going to the feed.
  await store.removeDefault('u-hook');
  await log.publish('u-hook', completed('j-hook'));

  const entries = await scratch.xrange(keys.stream, '-', '+');
  const fields = entries.map(([, f]) => Object.fromEntries([0, 2, 4].map((i) => [f[i], f[i + 1]])));
  assert.deepEqual(
    fields.map((f) => f.id),
    ids,
    'each entry carries its event stream id',
  );
  assert.deepEqual(
    fields.map((f) => [f.u, JSON.parse(f.e).type]),
    [
      ['u-hook', 'progress'],
      ['u-hook', 'completed'],
      ['u-none', 'completed'],
    ],
  );
  assert.equal(await scratch.sismember(keys.users, 'u-hook'), 0);

  // 5. Defaults set before the index existed are indexed once at start (a marker remembers it).
  await scratch.set(
    `${p}:webhook:default:u-old`,
    JSON.stringify({ url: `${hook}/old`, events: ['completed'] }),
  );
  await store.indexExisting();
  assert.equal(await scratch.sismember(keys.users, 'u-old'), 1);
});

test('no delivery is lost while the dispatcher is stopped and the event stream trims past it', async () => {
  const feed = webhookFeedKeys(prefix);
  const events = eventStreamKey(prefix);
  const log = new JobEventLog(redis, prefix);
  // 1. A user with a default webhook for `completed`, and one job (its view makes the body).
  const { client, userId, jobId } = await userWithJob(svc.baseUrl);
  const secret = (await client.request('POST', '/api/webhook/secret')).body.secret as string;
  const set = await client.request('PUT', '/api/webhook', { url: `${hook}/restart`, events: ['completed'] });
  assert.equal(set.status, 200);

  // 2. A publisher runs throughout: per batch, 500 events of 100 users without a webhook and
  //    one wanted event. Every wanted event gets its own id, hence its own delivery.
  const wanted: string[] = [];
  let batches = 0;
  let running = true;
  const publisher = (async () => {
    while (running) {
      const noise = Array.from({ length: 500 }, (_, k) =>
        log.publish(`noise-${k % 100}`, completed(`noise-job-${k % 100}`)),
      );
      const [id] = await Promise.all([log.publish(userId, completed(jobId)), ...noise]);
      wanted.push(id);
      batches++;
    }
  })();
  const batchesNow = async (n: number) => {
    const target = batches + n;
    while (batches < target) await new Promise((r) => setTimeout(r, 20));
  };

  // 3. The running instance delivers, then stops (its dispatcher with it) while events pass.
  await receiver.waitFor(() => receiver.at('/restart').length >= 3);
  await svc.app.close();
  const stoppedAt = wanted.length;
  // 4. More than the event stream keeps passes while no dispatcher runs.
  await batchesNow(Math.ceil((MAX_EVENTS * 1.3) / 500));
  // 5. An instance starts again while the publisher still runs, then the publisher stops.
  restarted = await buildServer(
    loadConfig({ ...svc.env, LOG_LEVEL: 'silent' }),
    svc.redis.url,
    pino({ level: 'silent' }),
  );
  await batchesNow(5);
  running = false;
  await publisher;
  assert.ok(wanted.length - stoppedAt > 100, `${wanted.length - stoppedAt} wanted events while stopped`);

  // 6. The event stream no longer holds the first events published while stopped: a reader of
  //    that stream that far behind would have lost them.
  const [[oldestKept]] = await redis.xrange(events, '-', '+', 'COUNT', 1);
  assert.ok(
    wanted.slice(stoppedAt).some((id) => compareEventIds(id, oldestKept) < 0),
    'some wanted events were trimmed from the event stream',
  );

  // 7. Every wanted event delivered exactly once, signed; nothing left in the feed.
  await receiver.waitFor(
    () => new Set(receiver.at('/restart').map((r) => r.body.eventId)).size >= wanted.length,
    90_000,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const got = receiver.at('/restart');
  assert.equal(got.length, wanted.length, 'each delivery once');
  assert.deepEqual(new Set(got.map((r) => r.body.eventId)), new Set(wanted));
  assert.ok(
    got.every((r) => r.body.job.id === jobId && signatureValid(r.headers['vcfarm-signature'], r.raw, secret)),
  );
  assert.equal(await redis.xlen(feed.stream), 0);
  const [pending] = (await redis.xpending(feed.stream, 'webhooks')) as [number];
  assert.equal(pending, 0);
});
