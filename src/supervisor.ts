import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { EmbeddedRedis } from './redis/index.js';
import { startApiServer } from './server.js';

export interface SupervisorHandle {
  url: string;
  redisUrl: string;
  close(): Promise<void>;
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
export async function startAll(config: Config, logger: Logger, cliPath: string): Promise<SupervisorHandle> {
  let redis: EmbeddedRedis | undefined;
  let redisUrl = config.redisUrl;
  if (!redisUrl) {
    redis = new EmbeddedRedis({
      dir: path.join(config.dataDir, 'redis'),
      runDir: path.join(config.dataDir, 'run'),
      logger: logger.child({ role: 'redis' }),
    });
    redisUrl = await redis.start();
  }
  const worker = spawn(process.execPath, [cliPath, 'worker'], {
    env: { ...process.env, REDIS_URL: redisUrl, VCFARM_PARENT_PID: String(process.pid) },
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
    redisUrl,
    async close() {
      closing = true;
      await started.app.close();
      // Running jobs finish first; a job that outlives the grace period is retried on the next start.
      await stopChild(worker, 60_000);
      await redis?.stop();
    },
  };
}
