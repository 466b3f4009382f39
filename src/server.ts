import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { vcfarmApp } from './app.js';
import type { Config } from './config/index.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** A Fastify instance with vcfarm registered, ready to listen (or to `inject` in tests). */
export async function buildServer(
  config: Config,
  redisUrl: string,
  logger: Logger,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Keep the client's request id only when it looks like one, so logs cannot be forged.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestIdLogLabel: 'requestId',
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.register(vcfarmApp, { config, redisUrl });
  return app;
}

/** Builds and listens; returns the server and the address it listens on. */
export async function startApiServer(
  config: Config,
  redisUrl: string,
  logger: Logger,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildServer(config, redisUrl, logger);
  const address = await app.listen({ port: config.port, host: config.host });
  return { app, url: address };
}
