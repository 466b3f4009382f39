import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { closeRedis } from './close.js';
import { connectRedis } from './connection.js';

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
    const redis = connectRedis(opts.url, 'vcfarm-api', app.log);
    app.decorate('redis', redis);
    app.decorate('connectRedis', (name: string) => connectRedis(opts.url, name, app.log));
    app.addHook('onClose', async () => {
      await closeRedis(redis);
    });
  },
  { name: 'vcfarm-redis', dependencies: ['vcfarm-config'] },
);
