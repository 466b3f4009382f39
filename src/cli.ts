#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { startWorkerProcess } from '../workers/index.js';
import { usersCommand } from './cli-users.js';
import { type Config, loadConfig } from './config/index.js';
import { VcError } from './errors/index.js';
import { drainAndClose } from './lifecycle/index.js';
import { createLogger } from './logging/index.js';
import { withPassword } from './redis/index.js';
import { startApiServer } from './server.js';
import { startAll } from './supervision/index.js';

const USAGE = `usage: vcfarm <command>
  all      single-machine service: Redis (unless REDIS_URL), one API, one worker process
  api      one API instance (needs REDIS_URL)
  worker   one worker process with a pinned thread pool (needs REDIS_URL)
  users    accounts and API keys: users add NAME --plan pro | list | remove ID | rotate-key ID
client commands (against VCFARM_URL with VCFARM_API_KEY or a kept anonymous session; --help on each):
  convert  FILE... --voice NAME|ID [--strength 0.8] [--pitch 2] [--format mp3] [--out DIR]
  voices   list | clone NAME FILE | rm ID
  jobs     list | show ID | cancel ID`;

/** A worker whose parent (`vcfarm all`) is gone stops within this, jobs or not: they are retried. */
const PARENT_GONE_EXIT_MS = 3000;
/** Just under the 60 s `vcfarm all` gives its worker: running jobs may finish, then it exits anyway. */
const WORKER_STOP_DEADLINE_MS = 55_000;
const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

interface ShutdownOptions {
  /** The whole close gets this long; then the process exits 1 whatever is still open. */
  deadlineMs: number;
  /** Synchronous last resort before a forced exit: kill the children. */
  force?: () => void;
}

/**
 * Runs `close` once on SIGINT/SIGTERM (or `stop()`), then exits; bounded by a deadline. A second
 * signal exits at once (128 + signal number). A process started by `vcfarm all` also stops when
 * that parent is gone, within PARENT_GONE_EXIT_MS.
 */
function onShutdown(
  logger: Logger,
  close: (reason: string) => Promise<void>,
  options: ShutdownOptions,
): (reason: string, exitCode?: number) => void {
  let stopping = false;
  const exitNow = (code: number) => {
    options.force?.();
    process.exit(code);
  };
  const stop = (reason: string, exitCode = 0, deadlineMs = options.deadlineMs) => {
    if (stopping) {
      if (SIGNAL_NUMBERS[reason]) {
        logger.warn({ signal: reason }, 'second signal: exiting at once');
        exitNow(128 + SIGNAL_NUMBERS[reason]);
      }
      return;
    }
    stopping = true;
    logger.info({ reason }, 'shutting down');
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown did not finish within its deadline; exiting');
      exitNow(1);
    }, deadlineMs).unref();
    close(reason).then(
      () => process.exit(exitCode),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        exitNow(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Started by `vcfarm all`: if that parent dies without stopping us, stop by ourselves, quickly.
  const parent = Number(process.env.VCFARM_PARENT_PID);
  if (parent > 0) {
    setInterval(() => {
      if (process.ppid !== parent) stop('parent-exit', 1, PARENT_GONE_EXIT_MS);
    }, 500).unref();
  }
  return (reason, exitCode) => stop(reason, exitCode);
}

/** REDIS_URL with the password of REDIS_PASSWORD_FILE, if any. */
function requireRedisUrl(config: Config): string {
  if (!config.redisUrl)
    throw new VcError('VC_ERR_CONFIG', 'REDIS_URL must be set for this command (or use `vcfarm all`)');
  return withPassword(config.redisUrl, config.redisPassword);
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0];
  if (command && ['convert', 'voices', 'jobs'].includes(command)) {
    // The client needs no server configuration; loaded only when asked for.
    const { runClient } = await import('./client-cli/index.js');
    const { stdout, stderr, env } = process;
    process.exit(await runClient(command, argv.slice(1), { stdout, stderr, env }));
  }
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
    onShutdown(logger, () => drainAndClose(app, config.drainMs, logger, config.closeTimeoutMs), {
      deadlineMs: config.drainMs + config.closeTimeoutMs + 2000,
    });
  } else if (command === 'worker') {
    const handle = await startWorkerProcess(config, requireRedisUrl(config), logger);
    onShutdown(logger, (reason) => handle.close({ jobGraceMs: reason === 'parent-exit' ? 0 : undefined }), {
      deadlineMs: WORKER_STOP_DEADLINE_MS,
    });
  } else {
    const handle = await startAll(config, logger, fileURLToPath(import.meta.url));
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
  }
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`vcfarm: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
