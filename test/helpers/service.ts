import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { withPassword } from '../../src/redis/index.js';
import { buildServer } from '../../src/server.js';
import { writePlans } from './plans.js';
import { spawnProcess } from './processes.js';
import { startRedis, type TestRedis } from './redis.js';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface WorkerChild {
  process: ChildProcess;
  id: string;
  /** Resolves once the worker logged "worker process ready". */
  ready: Promise<void>;
  /** Every JSON log line the worker printed so far. */
  logs: Record<string, unknown>[];
  /** What the worker wrote that is not a JSON log line (stderr: a library's own complaints, a crash), by line. */
  stderr: string[];
  /** SIGTERM, then SIGKILL after `graceMs` (default 15 s); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface TestService {
  baseUrl: string;
  redis: TestRedis;
  dataDir: string;
  env: Record<string, string>;
  app: FastifyInstance;
  workers: WorkerChild[];
  startWorker(extraEnv?: Record<string, string>): WorkerChild;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Worker processes to start (default 1). */
  workers?: number;
  env?: Record<string, string>;
}

/**
 * A whole vcfarm on real parts for one test file: its own redis-server, the API listening on a
 * free port in this process, and worker processes started from the CLI exactly as in production.
 */
export async function startService(opts: ServiceOptions = {}): Promise<TestService> {
  // Readiness is read from the worker's "worker process ready" line, an info-level log.
  if (opts.env?.LOG_LEVEL && !['trace', 'debug', 'info'].includes(opts.env.LOG_LEVEL))
    throw new Error(`startService needs worker LOG_LEVEL info or lower, got ${opts.env.LOG_LEVEL}`);
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-data-'));
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    // With REDIS_SENTINELS in opts.env the service follows the sentinels instead.
    ...(opts.env?.REDIS_SENTINELS ? {} : { REDIS_URL: redis.url }),
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    // Limits that tests not about limits never reach; a test about them passes its own PLANS_FILE.
    PLANS_FILE: writePlans(dataDir),
    // No load shedding: this API shares its event loop with the test's own work (decoding, driving
    // Chromium) and, with `npm test` running two files at once, a busy machine; its stalls are not
    // the service's. A test about shedding sets its own limit (health-and-pressure.test).
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...opts.env,
  };
  let app: FastifyInstance;
  try {
    const config = loadConfig({ ...env, LOG_LEVEL: process.env.VCFARM_TEST_LOG ?? 'silent' });
    const url =
      opts.env?.REDIS_SENTINELS && config.redisUrl
        ? withPassword(config.redisUrl, config.redisPassword)
        : redis.url;
    app = await buildServer(config, url, pino({ level: config.logLevel }));
  } catch (err) {
    // A bad configuration must not leave this file's redis-server behind.
    await redis.stop();
    throw err;
  }
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const workers: WorkerChild[] = [];
  let n = 0;

  const startWorker = (extraEnv: Record<string, string> = {}): WorkerChild => {
    const id = `test-worker-${++n}`;
    const p = spawnProcess(process.execPath, [CLI, 'worker'], {
      name: id,
      env: { ...env, WORKER_ID: id, ...extraEnv },
      graceMs: 15_000,
    });
    const ready = p.waitForLog('worker process ready', 120_000).then(() => {});
    ready.catch(() => {});
    const w = { process: p.process, id, ready, logs: p.logs, stderr: p.text, stop: p.stop };
    workers.push(w);
    return w;
  };

  for (let i = 0; i < (opts.workers ?? 1); i++) startWorker();
  await Promise.all(workers.map((w) => w.ready));

  return {
    baseUrl: address,
    redis,
    dataDir,
    env,
    app,
    workers,
    startWorker,
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await app.close();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
