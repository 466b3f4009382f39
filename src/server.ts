import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { clientErrorHandler } from './api/index.js';
import { vcfarmApp } from './app.js';
import type { Config } from './config/index.js';
import { Lifecycle } from './lifecycle/index.js';
import { requestSerializer } from './logging/index.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * A Fastify instance with vcfarm registered, ready to listen (or to `inject` in tests). `pages`:
 * the built pages' folder (default dist/public).
 */
export async function buildServer(
  config: Config,
  redisUrl: string,
  logger: Logger,
  { pages }: { pages?: string } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    // Request log lines go through a serializer that takes tokens out of query strings.
    loggerInstance: logger.child({}, { serializers: { req: requestSerializer } }) as FastifyBaseLogger,
    // Keep the client's request id only when it looks like one, so logs cannot be forged.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: 64 * 1024,
    // The whole request must arrive in time (answered 400 VC_ERR_REQUEST_TIMEOUT and closed, never
    // 408: src/api/client-errors.ts); checked every second or so, so a trickling client is cut off
    // soon after the limit, not up to 30 s later.
    requestTimeout: config.requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(config.requestTimeoutMs),
    http: {
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(config.requestTimeoutMs / 10))),
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // X-Forwarded-For/-Proto are believed only from these peers; otherwise clients could forge them.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Answered before its body was read to the end (an upload refused mid-body: a full disk, a
    // limit): read and drop the rest, so the next request on this keep-alive connection is heard.
    // Node drains only bodies nobody started reading; a multipart parser that stopped half-way
    // left the connection silent until its keep-alive timeout. REQUEST_TIMEOUT_MS bounds the drain.
    if (!request.raw.complete && !request.raw.destroyed) {
      request.raw.unpipe();
      request.raw.resume();
    }
  });
  // On the root, so that drainAndClose (given this instance) and /health (inside) share it.
  app.decorate('lifecycle', new Lifecycle());
  await app.register(vcfarmApp, { config, redisUrl, pages });
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
