import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { closeRedis } from './close.js';
import type { RedisClient } from './connection.js';
import { connectRedis } from './connection.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The instance's shared command connection (never used for blocking commands). */
    redis: RedisClient;
    /** Opens another connection to the same Redis, for a blocking reader or a subscriber; the caller closes it. */
    connectRedis(name: string): RedisClient;
  }
}

export const redisPlugin = fp(
  async (app: FastifyInstance, opts: { url: string }) => {
    const redis = connectRedis(opts.url, 'vcfarm-api', app.log);
    app.decorate<RedisClient>('redis', redis);
    app.decorate('connectRedis', (name: string) => connectRedis(opts.url, name, app.log));
    app.addHook('onClose', async () => {
      await closeRedis(redis);
    });
  },
  { name: 'vcfarm-redis', dependencies: ['vcfarm-config'] },
);
