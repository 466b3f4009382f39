import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { apiRoutes, installErrorHandler } from './api/index.js';
import { authPlugin } from './auth/index.js';
import { type Config, configPlugin } from './config/index.js';
import { progressPlugin } from './progress/index.js';
import { queuePlugin } from './queue/index.js';
import { redisPlugin } from './redis/index.js';
import { workspacePlugin } from './workspace/index.js';

export interface AppOptions {
  config: Config;
  /** The Redis to use (REDIS_URL, or the embedded one the supervisor started). */
  redisUrl: string;
}

const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/** The whole vcfarm API as one Fastify plugin; `server.ts` creates the instance and listens. */
export async function vcfarmApp(app: FastifyInstance, opts: AppOptions): Promise<void> {
  installErrorHandler(app);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'SAMEORIGIN');
    reply.header('referrer-policy', 'strict-origin-when-cross-origin');
  });
  await app.register(configPlugin, { config: opts.config });
  await app.register(redisPlugin, { url: opts.redisUrl });
  await app.register(progressPlugin);
  await app.register(queuePlugin, { redisUrl: opts.redisUrl });
  await app.register(workspacePlugin);
  await app.register(authPlugin);
  await app.register(multipart, {
    limits: { files: 1, parts: 4, fields: 2, fieldSize: 1024, headerPairs: 100 },
  });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(apiRoutes);
  await app.register(fastifyStatic, { root: WEB_ROOT, prefix: '/', index: ['index.html'] });
}
