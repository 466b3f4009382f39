import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ConflictError } from '../errors/index.js';
import { effectivePlan } from '../plans/index.js';
import { WorkspaceSweeper } from './sweeper.js';

declare module 'fastify' {
  interface FastifyInstance {
    sweeper: WorkspaceSweeper;
  }
}

/** Every API instance runs the sweeper on SWEEP_INTERVAL_SEC; the Redis lock lets one sweep at a time. */
export const sweeperPlugin = fp(
  async (app: FastifyInstance) => {
    const { plans } = app.config;
    const sweeper = new WorkspaceSweeper({
      dataDir: app.config.dataDir,
      redis: app.redis,
      prefix: app.config.redisPrefix,
      log: app.log.child({ component: 'sweeper' }),
      intervalMs: app.config.sweepIntervalSec * 1000,
      intakeDeadlineSec: app.config.requestTimeoutMs / 1000,
      filesInUse: (userId) => app.conversions.filesInUse(userId),
      retire: (userId, kind, id) =>
        app.conversions.retire(userId, kind, id).then(
          () => true,
          (err: unknown) => {
            if (err instanceof ConflictError) return false;
            throw err;
          },
        ),
      outputRemoved: (userId, jobId) => app.conversions.markResultGone(userId, jobId, 'expired'),
      ttlsOf: async (userId) => {
        const account = await app.accounts.get(userId);
        return effectivePlan(plans, account?.plan ?? plans.anonymousPlan, account?.overrides).ttl;
      },
    });
    sweeper.on('swept', (removed) => {
      app.metrics.sweeps.inc();
      app.metrics.sweptFiles.inc(removed.length);
      app.metrics.sweptBytes.inc(removed.reduce((n, f) => n + f.bytes, 0));
    });
    app.decorate('sweeper', sweeper);
    app.addHook('onReady', async () => sweeper.start());
    app.addHook('onClose', async () => sweeper.stop());
  },
  {
    name: 'vcfarm-sweeper',
    dependencies: ['vcfarm-config', 'vcfarm-redis', 'vcfarm-queue', 'vcfarm-auth', 'vcfarm-metrics'],
  },
);
