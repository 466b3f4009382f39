import type { FastifyInstance } from 'fastify';
import { healthRoutes } from './health.js';
import { jobRoutes } from './jobs.js';
import { sessionRoutes } from './session.js';
import { uploadRoutes } from './uploads.js';
import { wsRoutes } from './ws.js';

export { installErrorHandler } from './error-handler.js';

/** Every route group. `/api/session` and `/api/ws` are public; the rest need a bearer token. */
export async function apiRoutes(app: FastifyInstance): Promise<void> {
  await app.register(healthRoutes);
  await app.register(
    async (api) => {
      await api.register(sessionRoutes);
      await api.register(wsRoutes);
      await api.register(async (authed) => {
        authed.addHook('onRequest', async (request) => {
          await app.authenticate(request);
        });
        await authed.register(uploadRoutes);
        await authed.register(jobRoutes);
      });
    },
    { prefix: '/api' },
  );
}
