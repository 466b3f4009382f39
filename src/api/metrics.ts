import type { FastifyInstance } from 'fastify';

/**
 * GET /metrics: this API instance's Prometheus metrics, for the admin credential only (a scrape
 * config passes it with `authorization: {credentials_file: ...}`). Not shed under pressure, so
 * a busy instance still shows why it is busy.
 */
export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/metrics', { config: { shedUnderPressure: false } }, async (request, reply) => {
    await app.requireAdmin(request);
    const body = await app.metrics.registry.metrics();
    return reply.type(app.metrics.registry.contentType).send(body);
  });
}
