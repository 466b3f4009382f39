import multipart from '@fastify/multipart';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { apiRoutes, installErrorHandler, openApiPlugin } from './api/index.js';
import { authPlugin } from './auth/index.js';
import type { Config } from './config/index.js';
// The plugin from its own file: config/index.ts, loaded by every process, loads no Fastify plugin.
import { configPlugin } from './config/plugin.js';
import { corsPlugin } from './cors/index.js';
import { lifecyclePlugin, pressurePlugin } from './lifecycle/index.js';
import { diskSpacePlugin, rateLimitsPlugin, uploadSlotsPlugin } from './limits/index.js';
import { resultLinksPlugin } from './links/index.js';
import { metricsPlugin } from './metrics/index.js';
import { modelsPlugin } from './models/index.js';
import { contentSecurityPolicy, pageBuildPlugin, pagePlugin } from './page/index.js';
import { progressPlugin } from './progress/index.js';
import { queuePlugin } from './queue/index.js';
import { failFastRedisPlugin, redisPlugin } from './redis/index.js';
import { scalingPlugin } from './scaling/index.js';
import { webhooksPlugin } from './webhooks/index.js';
import { sweeperPlugin, workspacePlugin } from './workspace/index.js';

export interface AppOptions {
  config: Config;
  /** The Redis to use (REDIS_URL, or the embedded one the supervisor started). */
  redisUrl: string;
  /** The built pages' folder. Default dist/public. */
  pages?: string;
}

/** The whole vcfarm API as one Fastify plugin; `server.ts` creates the instance and listens. */
export async function vcfarmApp(app: FastifyInstance, opts: AppOptions): Promise<void> {
  installErrorHandler(app);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'SAMEORIGIN');
    reply.header('referrer-policy', 'strict-origin-when-cross-origin');
    // The HTML pages set their own, with a nonce.
    if (!reply.hasHeader('content-security-policy'))
      reply.header('content-security-policy', contentSecurityPolicy());
    // API answers (tokens, job lists, results) are per user: no cache, shared or private, keeps them.
    if (request.url.startsWith('/api/') || request.url === '/api') reply.header('cache-control', 'no-store');
    // request.protocol follows X-Forwarded-Proto only from TRUSTED_PROXIES.
    if (request.protocol === 'https')
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
  });
  await app.register(configPlugin, { config: opts.config });
  // First of the onRequest hooks: a refused cross-origin request reaches no limit and no handler.
  await app.register(corsPlugin);
  await app.register(pageBuildPlugin, { root: opts.pages });
  await app.register(lifecyclePlugin);
  await app.register(pressurePlugin);
  await app.register(redisPlugin, { url: opts.redisUrl });
  await app.register(failFastRedisPlugin, { url: opts.redisUrl });
  await app.register(progressPlugin);
  await app.register(queuePlugin, { redisUrl: opts.redisUrl });
  await app.register(metricsPlugin);
  await app.register(workspacePlugin);
  await app.register(resultLinksPlugin);
  await app.register(scalingPlugin);
  await app.register(modelsPlugin);
  await app.register(authPlugin);
  await app.register(rateLimitsPlugin);
  await app.register(diskSpacePlugin);
  await app.register(uploadSlotsPlugin);
  await app.register(sweeperPlugin);
  await app.register(webhooksPlugin, { redisUrl: opts.redisUrl });
  await app.register(multipart, {
    limits: { files: 1, parts: 4, fields: 2, fieldSize: 1024, headerPairs: 100 },
  });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(openApiPlugin);
  await app.register(apiRoutes);
  await app.register(pagePlugin, { root: opts.pages });
}
