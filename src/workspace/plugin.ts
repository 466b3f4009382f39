import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pLimit, { type LimitFunction } from 'p-limit';
import { UploadStore } from './uploads.js';
import { UsageLedger } from './usage-ledger.js';
import { VoiceStore } from './voices.js';

declare module 'fastify' {
  interface FastifyInstance {
    uploads: UploadStore;
    voices: VoiceStore;
    /** Each workspace's usage as a running total in Redis (the quota checks read it). */
    usage: UsageLedger;
    /** Upload-time decode checks of this instance, at most DECODE_CHECKS_MAX at once. */
    decodeChecks: LimitFunction;
  }
}

export const workspacePlugin = fp(
  async (app: FastifyInstance) => {
    const ledger = new UsageLedger(app.redisUsage, app.config.redisPrefix, app.config.dataDir);
    app.decorate('usage', ledger);
    app.decorate('uploads', new UploadStore(app.config.dataDir, { ledger }));
    app.decorate('voices', new VoiceStore(app.config.dataDir, ledger));
    app.decorate('decodeChecks', pLimit(app.config.decodeChecksMax));
  },
  { name: 'vcfarm-workspace', dependencies: ['vcfarm-config', 'vcfarm-redis-failfast'] },
);
