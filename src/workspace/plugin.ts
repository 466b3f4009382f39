import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { UploadStore } from './uploads.js';
import { VoiceStore } from './voices.js';

declare module 'fastify' {
  interface FastifyInstance {
    uploads: UploadStore;
    voices: VoiceStore;
  }
}

export const workspacePlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('uploads', new UploadStore(app.config.dataDir));
    app.decorate('voices', new VoiceStore(app.config.dataDir));
  },
  { name: 'vcfarm-workspace', dependencies: ['vcfarm-config'] },
);
