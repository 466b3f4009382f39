import type { FastifyInstance } from 'fastify';
import { carriesIdempotencyKey, idempotencyPlugin } from '../idempotency/index.js';
import { adminJobRoutes } from './admin-jobs.js';
import { adminUserRoutes } from './admin-users.js';
import { healthRoutes } from './health.js';
import { jobRoutes } from './jobs.js';
import { metricsRoutes } from './metrics.js';
import { modelRoutes } from './models.js';
import { queueRoutes } from './queue.js';
import { resultRoutes } from './results.js';
import { installServerTiming, timed } from './server-timing.js';
import { sessionRoutes } from './session.js';
import { systemRoutes } from './system.js';
import { uploadAudioRoutes } from './upload-audio.js';
import { uploadRoutes } from './uploads.js';
import { versionRoutes } from './version.js';
import { voicePreviewRoutes } from './voice-previews.js';
import { voiceRoutes } from './voices.js';
import { webhookRoutes } from './webhooks.js';
import { workspaceRoutes } from './workspace.js';
import { wsRoutes } from './ws.js';

export { clientErrorHandler } from './client-errors.js';
export { installErrorHandler } from './error-handler.js';
export { openApiPlugin } from './openapi.js';

/** Every route group. `/api/session`, `/api/version` and `/api/ws` are public; the rest need a bearer token. */
export async function apiRoutes(app: FastifyInstance): Promise<void> {
  installServerTiming(app);
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(
    async (api) => {
      await api.register(sessionRoutes);
      await api.register(versionRoutes);
      await api.register(async (ws) => {
        // With ?token= an upgrade counts against the user's `api` limit; without, against a
        // per-IP bucket of its own, and against the user's `api` limit once it authenticates.
        ws.addHook('preHandler', async (request, reply) => app.enforceWsUpgradeLimit(request, reply));
        await ws.register(wsRoutes);
      });
      await api.register(adminUserRoutes);
      await api.register(adminJobRoutes);
      await api.register(systemRoutes);
      // Signed links need no token; without a signature the route authenticates by itself.
      await api.register(resultRoutes);
      await api.register(uploadAudioRoutes);
      await api.register(voicePreviewRoutes);
      await api.register(async (authed) => {
        authed.addHook('onRequest', async (request, reply) => {
          await timed(request, 'auth', () => app.authenticate(request));
          // A request with an Idempotency-Key is counted once its key shows it is not a replay.
          if (!carriesIdempotencyKey(request))
            await timed(request, 'rate', () => app.enforceRateLimits(request, reply));
          await timed(request, 'space', () => app.assertFreeSpace(request));
        });
        // Idempotency-Key on POST /api/jobs, /api/uploads and /api/voices.
        await authed.register(idempotencyPlugin);
        await authed.register(uploadRoutes);
        await authed.register(jobRoutes);
        await authed.register(queueRoutes);
        await authed.register(workspaceRoutes);
        await authed.register(voiceRoutes);
        await authed.register(modelRoutes);
        await authed.register(webhookRoutes);
      });
    },
    { prefix: '/api' },
  );
}
