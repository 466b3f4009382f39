#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { startWorkerProcess } from '../workers/index.js';
import { usersCommand } from './cli-users.js';
import { type Config, loadConfig } from './config/index.js';
import { VcError } from './errors/index.js';
import { drainAndClose } from './lifecycle/index.js';
import { createLogger } from './logging.js';
import { withPassword } from './redis/index.js';
import { startApiServer } from './server.js';
import { startAll } from './supervisor.js';

const USAGE = `usage: vcfarm <command>
  all      single-machine service: Redis (unless REDIS_URL), one API, one worker process
  api      one API instance (needs REDIS_URL)
  worker   one worker process with a pinned thread pool (needs REDIS_URL)
  users    accounts and API keys: users add NAME --plan pro | list | remove ID | rotate-key ID`;

/** Runs `close` once on SIGINT/SIGTERM, then exits. */
function onShutdown(logger: Logger, close: (signal: string) => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    close(signal).then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Started by `vcfarm all`: if that parent dies without stopping us, stop by ourselves.
  const parent = Number(process.env.VCFARM_PARENT_PID);
  if (parent > 0) {
    setInterval(() => {
      if (process.ppid !== parent) stop('parent-exit');
    }, 1000).unref();
  }
}

/** REDIS_URL with the password of REDIS_PASSWORD_FILE, if any. */
function requireRedisUrl(config: Config): string {
  if (!config.redisUrl)
    throw new VcError('VC_ERR_CONFIG', 'REDIS_URL must be set for this command (or use `vcfarm all`)');
  return withPassword(config.redisUrl, config.redisPassword);
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0];
  if (!command || !['all', 'api', 'worker', 'users'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(command ? 2 : 0);
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    process.stderr.write(`vcfarm: ${(err as Error).message}\n`);
    process.exit(78);
  }
  if (command === 'users') {
    process.exit(
      await usersCommand(argv.slice(1), config, process.env, (s) => process.stdout.write(`${s}\n`)),
    );
  }
  const logger = createLogger(config.logLevel, command);
  if (command === 'api') {
    const { app, url } = await startApiServer(config, requireRedisUrl(config), logger);
    logger.info({ url }, 'api listening');
    onShutdown(logger, () => drainAndClose(app, config.drainMs, logger));
  } else if (command === 'worker') {
    const handle = await startWorkerProcess(config, requireRedisUrl(config), logger);
    onShutdown(logger, () => handle.close());
  } else {
    const handle = await startAll(config, logger, fileURLToPath(import.meta.url));
    const shown = handle.url.replace('0.0.0.0', 'localhost').replace('[::]', 'localhost');
    logger.info({ url: shown, redis: handle.redisUrl }, 'vcfarm is running');
    const admin = handle.adminTokenFile ? `\nadmin token: ${handle.adminTokenFile}` : '';
    process.stderr.write(`\nvcfarm is running: open ${shown}/   (Ctrl-C stops everything)${admin}\n\n`);
    // Ctrl-C stops at once; SIGTERM (a service manager, a balancer in front) drains first.
    onShutdown(logger, (signal) => handle.close({ drain: signal === 'SIGTERM' }));
  }
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`vcfarm: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
