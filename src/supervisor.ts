import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { drainAndClose } from './lifecycle/index.js';
import { EmbeddedRedis, ensureRedisPassword, withoutPassword, withPassword } from './redis/index.js';
import { startApiServer } from './server.js';

export interface SupervisorHandle {
  url: string;
  adminTokenFile: string | undefined;
  /** The Redis in use, without its password (for logs). */
  redisUrl: string;
  /** Stops everything; with `drain`, the API first answers /health with 503 for DRAIN_MS. */
  close(options?: { drain?: boolean }): Promise<void>;
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * `vcfarm all`: the single-machine service. Starts redis-server (unless REDIS_URL is set), one
 * API instance in this process and one worker process as a child, and stops all of them, in
 * reverse order, on close. Children get their own process group, so a terminal's Ctrl-C reaches
 * only this process, which then stops them in order.
 */
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

export async function startAll(
  givenConfig: Config,
  logger: Logger,
  cliPath: string,
): Promise<SupervisorHandle> {
  const config = await ensureAdminToken(givenConfig);
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
      logger: logger.child({ role: 'redis' }),
      password: secret.password,
    });
    redisUrl = await redis.start();
    workerRedis = { REDIS_URL: withoutPassword(redisUrl), REDIS_PASSWORD_FILE: secret.file };
  }
  const worker = spawn(process.execPath, [cliPath, 'worker'], {
    env: {
      ...process.env,
      ...workerRedis,
      VCFARM_PARENT_PID: String(process.pid),
      ...(config.adminTokenFile && !config.adminToken ? { ADMIN_TOKEN_FILE: config.adminTokenFile } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  worker.on('exit', (code, signal) => {
    if (!closing) logger.error({ code, signal }, 'worker process exited unexpectedly');
  });
  let closing = false;
  let api: Awaited<ReturnType<typeof startApiServer>> | undefined;
  try {
    api = await startApiServer(config, redisUrl, logger);
  } catch (err) {
    closing = true;
    await stopChild(worker, 30_000);
    await redis?.stop();
    throw err;
  }
  const started = api;
  return {
    url: started.url,
    adminTokenFile: config.adminToken ? undefined : config.adminTokenFile,
    redisUrl: withoutPassword(redisUrl),
    async close(options = {}) {
      closing = true;
      await drainAndClose(started.app, options.drain ? config.drainMs : 0, logger);
      // Running jobs finish first; a job that outlives the grace period is retried on the next start.
      await stopChild(worker, 60_000);
      await redis?.stop();
    },
  };
}
