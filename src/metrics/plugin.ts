import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { closeRedis } from '../redis/core.js';
import { ApiMetrics } from './api-metrics.js';
import { QueueDepthReader } from './queue-depth.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

/**
 * The API instance's metrics (one registry per app), the HTTP duration hook and the queue-depth
 * reader (one reader across instances). Other plugins count their own events into `app.metrics`. `GET /metrics` itself is a
 * route of `src/api` (admin token).
 */
export const metricsPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = new ApiMetrics({ pingRedis: () => app.redisFailFast.ping() });
    app.decorate('metrics', metrics);
    const leaseRedis = app.connectRedis('vcfarm-queue-reader-lease');
    const reader = new QueueDepthReader(
      app.redis,
      app.config.redisPrefix,
      app.conversions.queue,
      metrics.registry,
      leaseRedis,
    );
    app.addHook('onResponse', async (request, reply) => {
      // The route's pattern (`/api/jobs/:id`), never the URL: labels stay bounded.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpDuration
        .labels(route, request.method, String(reply.statusCode))
        .observe(reply.elapsedTime / 1000);
    });
    app.addHook('onReady', async () => reader.start());
    app.addHook('onClose', async () => {
      await reader.stop();
      await closeRedis(leaseRedis);
    });
  },
  {
    name: 'vcfarm-metrics',
    dependencies: ['vcfarm-config', 'vcfarm-redis', 'vcfarm-redis-failfast', 'vcfarm-queue'],
  },
);
