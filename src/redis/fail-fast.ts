import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { closeRedis } from './close.js';
import type { RedisClient } from './connection.js';
import { boundedRetry, openRedis } from './connection.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A connection whose commands fail at once while Redis is unreachable (no offline queue)
     * and after two seconds when it does not answer. Request-path checks (tokens, rate limits)
     * use it, so an outage turns into a quick 503 instead of requests that hang.
     */
    redisFailFast: RedisClient;
    /**
     * The same kind of connection for rate-limit counters only: a stalled counter write must
     * not queue token lookups behind it on one connection.
     */
    redisLimits: RedisClient;
    /**
     * The same kind of connection for the workspace usage ledger: a ledger write that stalls
     * (GET /api/workspace reconciles in the background) must not queue other reads behind it.
     */
    redisUsage: RedisClient;
  }
}

export const FAIL_FAST_COMMAND_TIMEOUT_MS = 2000;

export function connectRedisFailFast(url: string, name: string): RedisClient {
  return openRedis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: FAIL_FAST_COMMAND_TIMEOUT_MS,
    retryStrategy: boundedRetry,
  });
}

export const failFastRedisPlugin = fp(
  async (app: FastifyInstance, opts: { url: string }) => {
    const open = async (name: string) => {
      const redis = connectRedisFailFast(opts.url, name);
      redis.on('error', (err) =>
        app.log.debug({ err: err.message, name }, 'fail-fast redis connection error'),
      );
      app.addHook('onClose', async () => {
        await closeRedis(redis);
      });
      if (redis.status !== 'ready') {
        await new Promise<void>((resolve, reject) => {
          redis.once('ready', () => resolve());
          redis.once('end', () => reject(new Error('redis connection ended before it was ready')));
        });
      }
      return redis;
    };
    app.decorate<RedisClient>('redisFailFast', await open('vcfarm-api-failfast'));
    app.decorate<RedisClient>('redisLimits', await open('vcfarm-api-limits'));
    app.decorate<RedisClient>('redisUsage', await open('vcfarm-api-usage'));
  },
  { name: 'vcfarm-redis-failfast', dependencies: ['vcfarm-config'] },
);
