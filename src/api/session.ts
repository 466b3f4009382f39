import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SessionsDisabledError, UnavailableError, VcError } from '../errors/index.js';
import { ErrorBody } from './schemas.js';

const SessionCreated = Type.Object({ token: Type.String(), userId: Type.String() });

/** POST /api/session: an anonymous user and its bearer token. */
export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/session',
    {
      // Counted per client IP (X-Forwarded-For only from TRUSTED_PROXIES).
      onRequest: async (request, reply) => {
        if (!app.sessions.enabled) throw new SessionsDisabledError();
        await app.enforceSessionRateLimit(request, reply);
      },
      schema: {
        response: { 201: SessionCreated, 400: ErrorBody, 403: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const session = await app.sessions.create().catch((err) => {
        throw err instanceof VcError
          ? err
          : new UnavailableError('sessions cannot be created right now', { cause: err });
      });
      request.log.info({ userId: session.userId }, 'session created');
      return reply.status(201).send(session);
    },
  );
};
