import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import { freeBytes } from '../limits/index.js';
import { redisFault } from '../redis/index.js';

const Health = Type.Object({
  status: Type.String(),
  /** `up`, `down`, `refusing-writes` (MISCONF/READONLY/OOM) or `unchecked`. */
  redis: Type.String(),
  /** `live`, `none` or `unchecked` (only checked with HEALTH_REQUIRE_WORKER). */
  worker: Type.Optional(Type.String()),
  /** `ok` or `low` (below MIN_FREE_DISK_BYTES: uploads and jobs get 507; reads still work, so not a 503). */
  disk: Type.Optional(Type.String()),
  /** Why the answer is 503, in words an operator can act on. */
  reason: Type.Optional(Type.String()),
});

const PING_TIMEOUT_MS = 1000;
/** Workers beat every second; three missed beats and a worker no longer counts as live. */
const HEARTBEAT_FRESH_MS = 3000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${what} did not answer within ${PING_TIMEOUT_MS} ms`)),
        PING_TIMEOUT_MS,
      ).unref(),
    ),
  ]);
}

type HealthBody = Static<typeof Health>;

/**
 * GET /health and GET /health/ready (the same check; `/health` is what HAProxy and the deploy
 * tiers already probe): 200 while every Redis connection the routes use answers and Redis accepts
 * writes, the event loop is not overloaded, and (with HEALTH_REQUIRE_WORKER) a worker heartbeat
 * is live; 503 otherwise and while draining, with the reason. GET /health/live: 200 while the
 * process runs and answers, whatever its dependencies (a restart would not fix Redis).
 */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const probeKey = `${app.config.redisPrefix}:health:probe`;
  const diskState = async (): Promise<{ disk?: string }> => {
    const min = app.config.minFreeDiskBytes;
    if (min <= 0) return {};
    const free = await freeBytes(app.config.dataDir).catch(() => Number.POSITIVE_INFINITY);
    return { disk: free < min ? 'low' : 'ok' };
  };
  const readiness = async (): Promise<[200 | 503, HealthBody]> => {
    if (app.lifecycle.draining)
      return [503, { status: 'draining', redis: 'unchecked', reason: 'shutting down' }];
    if (app.isUnderPressure())
      return [
        503,
        { status: 'overloaded', redis: 'unchecked', reason: 'event loop overloaded: shedding load' },
      ];
    try {
      await Promise.all([
        withTimeout(app.redis.ping(), 'redis (commands)'),
        withTimeout(app.redisFailFast.ping(), 'redis (request checks)'),
        withTimeout(app.redisLimits.ping(), 'redis (rate limits)'),
        withTimeout(app.redisUsage.ping(), 'redis (workspace usage)'),
        withTimeout(app.conversions.queue.getJobCounts('active'), 'redis (queue)'),
      ]);
      // A write too: a Redis that refuses writes (disk full) is named as such, not as "down".
      await withTimeout(app.redisFailFast.set(probeKey, String(Date.now()), 'PX', 60_000), 'redis (write)');
    } catch (err) {
      // Redis answers even PING with MISCONF while it cannot persist.
      const fault = redisFault(err);
      return [
        503,
        {
          status: 'unavailable',
          redis: fault ? 'refusing-writes' : 'down',
          reason: fault ? fault.reason : (err as Error).message,
        },
      ];
    }
    const disk = await diskState();
    if (!app.config.healthRequireWorker) return [200, { status: 'ok', redis: 'up', ...disk }];
    // Fresh heartbeats only (one a second): a killed or frozen worker's key outlives it by seconds.
    const now = Date.now();
    const workers = (await app.scaling.liveWorkers()).filter((w) => now - w.updatedAt < HEARTBEAT_FRESH_MS);
    if (workers.length === 0)
      return [
        503,
        {
          status: 'unavailable',
          redis: 'up',
          worker: 'none',
          ...disk,
          reason: 'no live worker heartbeat: jobs would wait',
        },
      ];
    return [200, { status: 'ok', redis: 'up', worker: 'live', ...disk }];
  };
  const ready = {
    config: { shedUnderPressure: false },
    schema: { response: { 200: Health, 503: Health } },
  };
  app.get('/health', ready, async (_request, reply) => {
    const [code, body] = await readiness();
    return reply.status(code).send(body);
  });
  app.get('/health/ready', ready, async (_request, reply) => {
    const [code, body] = await readiness();
    return reply.status(code).send(body);
  });
  app.get(
    '/health/live',
    {
      config: { shedUnderPressure: false },
      schema: { response: { 200: Type.Object({ status: Type.Literal('live'), uptimeSec: Type.Number() }) } },
    },
    async () => ({ status: 'live' as const, uptimeSec: Math.round(process.uptime()) }),
  );
};
