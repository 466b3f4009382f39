import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ModelCatalog } from './catalog.js';
import { ModelLoadReports } from './load-reports.js';

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelCatalog;
  }
}

export const modelsPlugin = fp(
  async (app: FastifyInstance) => {
    const reports = new ModelLoadReports(app.redis, app.config.redisPrefix);
    app.decorate('models', new ModelCatalog(app.config.modelsDir, reports));
  },
  { name: 'vcfarm-models', dependencies: ['vcfarm-config', 'vcfarm-redis'] },
);
