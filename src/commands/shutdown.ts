import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { VcError } from '../errors/index.js';
import { withPassword } from '../redis/core.js';

/** A worker whose parent (`vcfarm all`) is gone stops within this, jobs or not: they are retried. */
const PARENT_GONE_EXIT_MS = 3000;
const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };
/**
 * A SIGINT this soon after the first is the same Ctrl-C: under `npm start` the terminal sends it to
 * the whole process group and npm forwards its own copy to the service, its child (the kernel merges
 * the two only when the copy comes before the first was taken: not on a busy machine).
 */
const SAME_CTRL_C_MS = 500;

export interface ShutdownOptions {
  /** The whole close gets this long; then the process exits 1 whatever is still open. */
  deadlineMs: number;
  /** Synchronous last resort before a forced exit: kill the children. */
  force?: () => void;
}

/**
 * Runs `close` once on SIGINT/SIGTERM (or `stop()`), then exits; bounded by a deadline. A second
 * signal exits at once (128 + signal number), but a SIGINT within SAME_CTRL_C_MS of the first is
 * taken for the same Ctrl-C. A process started by `vcfarm all` also stops when
 * that parent is gone, within PARENT_GONE_EXIT_MS.
 */
export function onShutdown(
  logger: Logger,
  close: (reason: string) => Promise<void>,
  options: ShutdownOptions,
): (reason: string, exitCode?: number) => void {
  let stopping = false;
  let firstSignalAt = 0;
  const exitNow = (code: number) => {
    options.force?.();
    process.exit(code);
  };
  const stop = (reason: string, exitCode = 0, deadlineMs = options.deadlineMs) => {
    if (stopping) {
      if (reason === 'SIGINT' && Date.now() - firstSignalAt < SAME_CTRL_C_MS) return;
      if (SIGNAL_NUMBERS[reason]) {
        logger.warn({ signal: reason }, 'second signal: exiting at once');
        exitNow(128 + SIGNAL_NUMBERS[reason]);
      }
      return;
    }
    stopping = true;
    firstSignalAt = Date.now();
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
export function requireRedisUrl(config: Config): string {
  if (!config.redisUrl)
    throw new VcError(
      'VC_ERR_CONFIG',
      'REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES must be set for this command (or use `vcfarm all`)',
    );
  return withPassword(config.redisUrl, config.redisPassword);
}
