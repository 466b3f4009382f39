import { startWorkerProcess } from '../../workers/index.js';
import { createLogger } from '../logging/index.js';
import { verifyRedis } from '../redis/core.js';
import type { Command } from './command.js';
import { onShutdown, requireRedisUrl } from './shutdown.js';

/** Just under the 60 s `vcfarm all` gives its worker: running jobs may finish, then it exits anyway. */
const WORKER_STOP_DEADLINE_MS = 55_000;

export const command: Command = {
  usage: `usage: vcfarm worker
  one worker process with a pinned thread pool (needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES); POOL_SIZE, PIN_THREADS, AUTOSCALE…`,
  async run(_args, config) {
    const logger = createLogger(config.logLevel, 'worker', config.logFormat);
    const redisUrl = requireRedisUrl(config);
    await verifyRedis(redisUrl);
    const handle = await startWorkerProcess(config, redisUrl, logger);
    onShutdown(logger, (reason) => handle.close({ jobGraceMs: reason === 'parent-exit' ? 0 : undefined }), {
      deadlineMs: WORKER_STOP_DEADLINE_MS,
    });
    return undefined;
  },
};
