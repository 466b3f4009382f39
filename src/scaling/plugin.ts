import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ScaleCoordinator } from './scale-coordinator.js';

declare module 'fastify' {
  interface FastifyInstance {
    scaling: ScaleCoordinator;
  }
}

export const scalingPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('scaling', new ScaleCoordinator(app.redis, app.config.redisPrefix));
  },
  { name: 'vcfarm-scaling', dependencies: ['vcfarm-redis'] },
);
