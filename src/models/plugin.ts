import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ModelCatalog } from './catalog.js';

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelCatalog;
  }
}

export const modelsPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('models', new ModelCatalog(app.config.modelsDir));
  },
  { name: 'vcfarm-models', dependencies: ['vcfarm-config'] },
);
