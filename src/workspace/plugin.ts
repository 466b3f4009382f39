import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { UploadStore } from './uploads.js';

declare module 'fastify' {
  interface FastifyInstance {
    uploads: UploadStore;
  }
}

export const workspacePlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('uploads', new UploadStore(app.config.dataDir));
  },
  { name: 'vcfarm-workspace', dependencies: ['vcfarm-config'] },
);
