import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const Health = Type.Object({ status: Type.String(), redis: Type.String() });

/** GET /health for load balancers: 200 while Redis answers, 503 otherwise and while draining. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', { schema: { response: { 200: Health, 503: Health } } }, async (_request, reply) => {
    if (app.lifecycle.draining) return reply.status(503).send({ status: 'draining', redis: 'unchecked' });
    try {
      await Promise.race([
        app.redis.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref()),
      ]);
      return { status: 'ok', redis: 'up' };
    } catch {
      return reply.status(503).send({ status: 'unavailable', redis: 'down' });
    }
  });
};
