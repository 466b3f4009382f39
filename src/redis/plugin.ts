import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { closeRedis } from './close.js';
import { connectRedis } from './connection.js';
import { connectionErrorLog } from './error-log.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The instance's shared command connection (never used for blocking commands). */
    redis: Redis;
    /** Opens another connection to the same Redis, for a blocking reader or a subscriber; the caller closes it. */
    connectRedis(name: string): Redis;
  }
}

export const redisPlugin = fp(
  async (app: FastifyInstance, opts: { url: string }) => {
    const onError = connectionErrorLog(app.log);
    const redis = connectRedis(opts.url, 'vcfarm-api', onError('vcfarm-api'));
    app.decorate('redis', redis);
    app.decorate('connectRedis', (name: string) => connectRedis(opts.url, name, onError(name)));
    app.addHook('onClose', async () => {
      await closeRedis(redis);
    });
  },
  { name: 'vcfarm-redis', dependencies: ['vcfarm-config'] },
);
