import { fileURLToPath } from 'node:url';
import { createLogger } from '../logging/index.js';
import { verifyRedis, withPassword } from '../redis/index.js';
import { startAll } from '../supervision/index.js';
import type { Command } from './command.js';
import { onShutdown } from './shutdown.js';

/** The CLI entry point, which `vcfarm all` starts again as `worker` (and, with REDIS_URL unset, Redis). */
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

export const command: Command = {
  usage: `usage: vcfarm all
  single-machine service: Redis (unless REDIS_URL), one API, one worker process`,
  async run(_args, config) {
    const logger = createLogger(config.logLevel, 'all', config.logFormat);
    if (config.redisUrl) await verifyRedis(withPassword(config.redisUrl, config.redisPassword));
    const handle = await startAll(config, logger, CLI);
    const shown = handle.url.replace('0.0.0.0', 'localhost').replace('[::]', 'localhost');
    const redis = new URL(handle.redisUrl);
    if (redis.password) redis.password = '***';
    logger.info({ url: shown, redis: redis.toString() }, 'vcfarm is running');
    const admin = handle.adminTokenFile ? `\nadmin token: ${handle.adminTokenFile}` : '';
    process.stderr.write(`\nvcfarm is running: open ${shown}/   (Ctrl-C stops everything)${admin}\n\n`);
    // Ctrl-C stops at once; SIGTERM (a service manager, a balancer in front) drains first.
    const stop = onShutdown(logger, (signal) => handle.close({ drain: signal === 'SIGTERM' }), {
      deadlineMs: config.drainMs + config.closeTimeoutMs + 65_000,
      force: handle.kill,
    });
    // A child that cannot be kept alive: stop everything and exit non-zero, for a service manager.
    void handle.gaveUp.then((reason) => stop(`gave up: ${reason}`, 1));
    return undefined;
  },
};
