import os from 'node:os';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ConflictError } from '../errors/index.js';
import { withDeadline } from '../lifecycle/index.js';
import type { JobWebhook, WebhookEvent } from '../queue/core.js';
import { boundedRetry, bullConnection, REDIS_QUIT_DEADLINE_MS } from '../redis/index.js';
import { type DeliveryData, postDelivery } from './delivery.js';
import { type StreamEvent, WebhookDispatcher } from './dispatcher.js';
import { signatureHeader } from './signature.js';
import { assertWebhookUrl, literalHost } from './ssrf.js';
import { WebhookStore } from './store.js';

export const WEBHOOK_QUEUE = 'webhooks';
/** Retry delays double from WEBHOOK_RETRY_BASE_MS up to this. */
const MAX_RETRY_DELAY_MS = 3600_000;

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: {
      store: WebhookStore;
      /** Throws a 400 for a URL that is malformed or (without WEBHOOK_ALLOW_PRIVATE) not public. */
      checkUrl(url: string): Promise<void>;
      /** Throws a 409 unless the user has a signing secret (nothing is sent unsigned). */
      checkSecret(userId: string): Promise<void>;
    };
  }
}

export function retryDelay(baseMs: number, attemptsMade: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), MAX_RETRY_DELAY_MS);
}

/** Attempts whose delays add up to `forMs`: the retries stop about then. */
export function attemptsWithin(baseMs: number, forMs: number): number {
  let total = 0;
  let n = 1;
  while (total + retryDelay(baseMs, n) <= forMs) total += retryDelay(baseMs, n++);
  return n;
}

/**
 * Webhooks: reads job events (WebhookDispatcher), turns the ones a user or job asked for into
 * deliveries on a BullMQ queue of their own, and delivers them with a worker in this process,
 * retried with exponential back-off for WEBHOOK_RETRY_FOR_MS. Nothing here runs in a request.
 */
export const webhooksPlugin = fp(
  async (app: FastifyInstance, opts: { redisUrl: string }) => {
    const { redisPrefix: prefix, webhookAllowPrivate: allowPrivate } = app.config;
    const store = new WebhookStore(app.redis, prefix);
    // Reconnects stop once the app closes: with Redis gone, BullMQ's close cannot end a connection
    // that keeps retrying, and its timers would keep the process alive.
    let closing = false;
    const bull = bullConnection(opts.redisUrl, (times: number) => (closing ? null : boundedRetry(times)));
    const { connection } = bull;
    const queue = new Queue<DeliveryData>(WEBHOOK_QUEUE, { connection, prefix });
    queue.on('error', (err) => app.log.warn({ err: err.message }, 'webhook queue error'));
    const base = app.config.webhookRetryBaseMs;
    const publicBase = (app.config.publicUrl ?? '').replace(/\/+$/, '');
    const attempts = attemptsWithin(base, app.config.webhookRetryForMs);

    /** Queues the delivery of one event a webhook asked for. */
    const deliver = async ({ eventId, userId, event }: StreamEvent, target: JobWebhook) => {
      if (event.type === 'progress' && !(await store.takeProgressSlot(event.jobId))) return;
      const view = await app.conversions.get(userId, event.jobId).catch(() => undefined);
      if (!view) return;
      const deliveryId = `dlv_${eventId.replace('-', '_')}`;
      // One result link in both places: signed (the receiver has no token), absolute with PUBLIC_URL.
      const link = () => `${publicBase}${app.resultLinks.url(view.id, userId)}`;
      const job = view.resultUrl ? { ...view, resultUrl: link() } : view;
      const body = JSON.stringify({
        id: deliveryId,
        type: event.type,
        createdAt: Date.now(),
        eventId,
        event: event.type === 'completed' ? { ...event, resultUrl: job.resultUrl ?? link() } : event,
        job,
      });
      // The delivery id is the BullMQ job id: queueing one event twice (a claimed entry) is a no-op.
      await queue.add(
        'deliver',
        { deliveryId, userId, url: target.url, event: event.type, body },
        {
          jobId: deliveryId,
          attempts,
          backoff: { type: 'webhook' },
          removeOnComplete: { age: 24 * 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      );
    };

    // Only events of users with a default webhook and of jobs with their own reach here (the
    // publisher's feed), but the webhook that applies is read now, as it may have changed since:
    // the job's own and the user's default for a whole read at once (two round trips per read,
    // each job and user once, however many of its events the read holds).
    const handle = async (events: StreamEvent[]): Promise<Set<string>> => {
      const jobEvents = events.filter(
        (e) => e.event.type !== 'stage' && e.event.type !== 'removed' && e.event.type !== 'resultGone',
      );
      const jobKey = (e: StreamEvent) => `${e.userId}/${e.event.jobId}`;
      const jobs = [
        ...new Map(jobEvents.map((e) => [jobKey(e), { userId: e.userId, jobId: e.event.jobId }])).values(),
      ];
      const users = [...new Set(jobEvents.map((e) => e.userId))];
      const [own, defaults] = await Promise.all([app.conversions.webhooksOf(jobs), store.defaultsOf(users)]);
      const ownOf = new Map(jobs.map((j, i) => [`${j.userId}/${j.jobId}`, own[i]]));
      const defaultOf = new Map(users.map((u, i) => [u, defaults[i]]));
      const failed = new Set<string>();
      for (const e of jobEvents) {
        const target = ownOf.get(jobKey(e)) ?? defaultOf.get(e.userId);
        if (!target?.events.includes(e.event.type as WebhookEvent)) continue;
        try {
          await deliver(e, target);
        } catch (err) {
          app.log.warn({ err, eventId: e.eventId }, 'webhook delivery could not be queued; retried later');
          failed.add(e.eventId);
        }
      }
      return failed;
    };

    const worker = new Worker<DeliveryData>(
      WEBHOOK_QUEUE,
      async (job) => {
        const { deliveryId, userId, url, event, body } = job.data;
        const secret = await store.secretOf(userId);
        if (!secret) throw new UnrecoverableError('the user has no webhook secret');
        const status = await postDelivery(
          url,
          body,
          {
            'user-agent': 'vcfarm-webhooks/1',
            'vcfarm-signature': signatureHeader(secret, body),
            'vcfarm-delivery': deliveryId,
            'vcfarm-event': event,
          },
          { timeoutMs: app.config.webhookTimeoutMs, allowPrivate },
        ).catch((err) => {
          // A non-public IP literal stays one: retrying for a day would change nothing.
          if (err?.code === 'VC_ERR_WEBHOOK_PRIVATE' && literalHost(new URL(url)) !== undefined)
            throw new UnrecoverableError('the webhook URL is a loopback, private or link-local address');
          throw err;
        });
        // Once per attempt, as it went: a refusal is the `failed` handler's warning, not a delivery.
        // Logged without the URL (its query may hold the receiver's own token).
        if (status < 200 || status >= 300) throw new Error(`the receiver answered ${status}`);
        app.log.info({ deliveryId, status, attempt: job.attemptsMade + 1 }, 'webhook delivered');
      },
      {
        connection,
        prefix,
        concurrency: 8,
        settings: { backoffStrategy: (attemptsMade: number) => retryDelay(base, attemptsMade) },
      },
    );
    worker.on('failed', (job, err) =>
      app.log.warn(
        {
          deliveryId: job?.data.deliveryId,
          err: err.message,
          attempt: job?.attemptsMade,
          // BullMQ has counted this attempt: another follows unless they are spent or it cannot succeed.
          retried: !!job && err.name !== 'UnrecoverableError' && job.attemptsMade < (job.opts.attempts ?? 1),
        },
        'webhook delivery failed',
      ),
    );
    worker.on('error', (err) => app.log.warn({ err: err.message }, 'webhook worker error'));

    const reader = app.connectRedis('vcfarm-webhooks');
    reader.on('error', (err) => app.log.debug({ err: err.message }, 'webhook reader connection error'));
    const dispatcher = new WebhookDispatcher(
      reader,
      app.redis,
      prefix,
      `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      handle,
      app.log,
    );
    await store.indexExisting();
    await dispatcher.start();

    app.decorate('webhooks', {
      store,
      checkUrl: async (url: string) => {
        await assertWebhookUrl(url, allowPrivate);
      },
      checkSecret: async (userId: string) => {
        if (!(await store.secretOf(userId)))
          throw new ConflictError('a webhook needs a signing secret first: POST /api/webhook/secret');
      },
    });
    app.addHook('onClose', async () => {
      closing = true;
      await dispatcher.close();
      // With Redis gone a close waits forever: past the deadline the connections are cut.
      await withDeadline(
        worker.close(),
        REDIS_QUIT_DEADLINE_MS,
        () => void worker.disconnect().catch(() => {}),
      );
      await withDeadline(
        queue.close(),
        REDIS_QUIT_DEADLINE_MS,
        () => void queue.disconnect().catch(() => {}),
      );
      bull.release();
    });
  },
  {
    name: 'vcfarm-webhooks',
    dependencies: ['vcfarm-redis', 'vcfarm-queue', 'vcfarm-result-links'],
  },
);
