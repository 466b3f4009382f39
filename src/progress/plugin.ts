import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { JobEventLog } from './event-log.js';
import { ProgressHub } from './progress-hub.js';

declare module 'fastify' {
  interface FastifyInstance {
    jobEvents: JobEventLog;
    progressHub: ProgressHub;
  }
}

export const progressPlugin = fp(
  async (app: FastifyInstance) => {
    const jobEvents = new JobEventLog(app.redis, app.config.redisPrefix);
    const hub = new ProgressHub(
      app.connectRedis('vcfarm-progress-hub'),
      app.redis,
      app.config.redisPrefix,
      app.log,
    );
    await hub.start();
    app.decorate('jobEvents', jobEvents);
    app.decorate('progressHub', hub);
    app.addHook('onClose', async () => hub.close());
  },
  { name: 'vcfarm-progress', dependencies: ['vcfarm-redis'] },
);
