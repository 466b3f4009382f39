import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pLimit, { type LimitFunction } from 'p-limit';
import { UploadStore } from './uploads.js';
import { VoiceStore } from './voices.js';

declare module 'fastify' {
  interface FastifyInstance {
    uploads: UploadStore;
    voices: VoiceStore;
    /** Upload-time decode checks of this instance, at most DECODE_CHECKS_MAX at once. */
    decodeChecks: LimitFunction;
  }
}

export const workspacePlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('uploads', new UploadStore(app.config.dataDir));
    app.decorate('voices', new VoiceStore(app.config.dataDir));
    app.decorate('decodeChecks', pLimit(app.config.decodeChecksMax));
  },
  { name: 'vcfarm-workspace', dependencies: ['vcfarm-config'] },
);
