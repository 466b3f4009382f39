import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody } from './schemas.js';

const SessionCreated = Type.Object({ token: Type.String(), userId: Type.String() });

/** POST /api/session: an anonymous user and its bearer token. */
export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/session',
    { schema: { response: { 201: SessionCreated, 400: ErrorBody } } },
    async (request, reply) => {
      const session = await app.sessions.create();
      request.log.info({ userId: session.userId }, 'session created');
      return reply.status(201).send(session);
    },
  );
};
