import { drainAndClose } from '../lifecycle/index.js';
import { createLogger } from '../logging/index.js';
import { verifyRedis } from '../redis/index.js';
import { startApiServer } from '../server.js';
import type { Command } from './command.js';
import { onShutdown, requireRedisUrl } from './shutdown.js';

export const command: Command = {
  usage: `usage: vcfarm api
  one API instance (needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES); settings come from the environment (docs/ARCHITECTURE.md)`,
  async run(_args, config) {
    const logger = createLogger(config.logLevel, 'api', config.logFormat);
    const redisUrl = requireRedisUrl(config);
    await verifyRedis(redisUrl);
    const { app, url } = await startApiServer(config, redisUrl, logger);
    logger.info({ url }, 'api listening');
    onShutdown(logger, () => drainAndClose(app, config.drainMs, logger, config.closeTimeoutMs), {
      deadlineMs: config.drainMs + config.closeTimeoutMs + 2000,
    });
    return undefined;
  },
};
