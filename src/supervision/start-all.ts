import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { drainAndClose } from '../lifecycle/index.js';
import { EmbeddedRedis, ensureRedisPassword, withoutPassword, withPassword } from '../redis/index.js';
import { startApiServer } from '../server.js';
import { SupervisedWorker } from './supervised-worker.js';

/** How long running jobs get to finish when `vcfarm all` stops; a job cut off is retried on the next start. */
const WORKER_STOP_GRACE_MS = 60_000;

export interface SupervisorHandle {
  url: string;
  adminTokenFile: string | undefined;
  /** The Redis in use, without its password (for logs). */
  redisUrl: string;
  /** Resolves (with the reason) when a child could not be kept alive: the caller stops and exits non-zero. */
  gaveUp: Promise<string>;
  /** Stops everything; with `drain`, the API first answers /health with 503 for DRAIN_MS. */
  close(options?: { drain?: boolean }): Promise<void>;
  /** Kills every child at once, synchronously (second signal, fatal error, exit). */
  kill(): void;
}

/** The embedded service gets an admin token of its own unless one is configured: DATA_DIR/admin-token. */
async function ensureAdminToken(config: Config): Promise<Config> {
  if (config.adminToken || config.adminTokenFile) return config;
  const file = path.join(config.dataDir, 'admin-token');
  await mkdir(config.dataDir, { recursive: true });
  await writeFile(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' }).catch(
    (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    },
  );
  return { ...config, adminTokenFile: file };
}

/**
 * `vcfarm all`: the single-machine service. Starts redis-server (unless REDIS_URL is set), one
 * API instance in this process and one worker process as a child, and stops all of them, in
 * reverse order, on close. Redis and the worker are watched and restarted with back-off; after
 * too many crashes `gaveUp` resolves. The API's /health is 503 while no worker heartbeat is live.
 * If this process exits by any path, its children are killed with it.
 */
export async function startAll(
  givenConfig: Config,
  logger: Logger,
  cliPath: string,
): Promise<SupervisorHandle> {
  const config = { ...(await ensureAdminToken(givenConfig)), healthRequireWorker: true };
  let giveUp: (reason: string) => void = () => {};
  const gaveUp = new Promise<string>((resolve) => {
    giveUp = resolve;
  });
  let redis: EmbeddedRedis | undefined;
  let redisUrl: string;
  // The worker gets the password as a file name in its environment, never on its command line.
  let workerRedis: Record<string, string> = {};
  if (config.redisUrl) {
    redisUrl = withPassword(config.redisUrl, config.redisPassword);
  } else {
    const secret = await ensureRedisPassword(config.dataDir);
    redis = new EmbeddedRedis({
      dir: path.join(config.dataDir, 'redis'),
      runDir: path.join(config.dataDir, 'run'),
      logger: logger.child({ component: 'redis' }),
      onGiveUp: giveUp,
      password: secret.password,
    });
    redisUrl = await redis.start();
    workerRedis = { REDIS_URL: withoutPassword(redisUrl), REDIS_PASSWORD_FILE: secret.file };
  }
  const worker = new SupervisedWorker({
    cliPath,
    env: {
      ...process.env,
      ...workerRedis,
      VCFARM_PARENT_PID: String(process.pid),
      ...(config.adminTokenFile && !config.adminToken ? { ADMIN_TOKEN_FILE: config.adminTokenFile } : {}),
    },
    logger,
    restartLimit: config.workerRestartLimit,
    onGiveUp: giveUp,
  });
  const kill = () => {
    worker.kill();
    redis?.kill();
  };
  // Whatever ends this process (an uncaught error, process.exit) ends its children too.
  process.once('exit', kill);
  worker.start();
  let api: Awaited<ReturnType<typeof startApiServer>> | undefined;
  try {
    api = await startApiServer(config, redisUrl, logger);
  } catch (err) {
    await worker.stop(WORKER_STOP_GRACE_MS);
    await redis?.stop();
    throw err;
  }
  const started = api;
  return {
    url: started.url,
    adminTokenFile: config.adminToken ? undefined : config.adminTokenFile,
    redisUrl: withoutPassword(redisUrl),
    gaveUp,
    kill,
    async close(options = {}) {
      await drainAndClose(started.app, options.drain ? config.drainMs : 0, logger, config.closeTimeoutMs);
      // Running jobs finish first; a job that outlives the grace period is retried on the next start.
      await worker.stop(WORKER_STOP_GRACE_MS);
      await redis?.stop();
    },
  };
}
