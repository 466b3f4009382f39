import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { connectionErrorLog } from '../redis/index.js';
import { ConversionQueue } from './conversion-queue.js';
import { QueueEstimator } from './queue-estimate.js';

declare module 'fastify' {
  interface FastifyInstance {
    conversions: ConversionQueue;
    queueEstimator: QueueEstimator;
  }
}

export const queuePlugin = fp(
  async (app: FastifyInstance, opts: { redisUrl: string }) => {
    const conversions = new ConversionQueue(app.redis, app.jobEvents, {
      redisUrl: opts.redisUrl,
      prefix: app.config.redisPrefix,
      dataDir: app.config.dataDir,
      attempts: app.config.jobAttempts,
    });
    conversions.queue.on('error', connectionErrorLog(app.log)('vcfarm-api-queue'));
    app.decorate('conversions', conversions);
    app.decorate('queueEstimator', new QueueEstimator(app.redis, app.config.redisPrefix));
    app.addHook('onClose', async () => conversions.close());
  },
  { name: 'vcfarm-queue', dependencies: ['vcfarm-redis', 'vcfarm-progress'] },
);
