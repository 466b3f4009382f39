import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Haproxy, startHaproxy } from './haproxy.js';
import { writePlans } from './plans.js';
import { consecutiveFreePorts } from './ports.js';
import { type StartedProcess, spawnProcess, startProcess } from './processes.js';
import { startRedis, type TestRedis } from './redis.js';
import { CLI } from './service.js';

/** A vcfarm command started by `spawnCli`: `kill()` is SIGKILL, `stop()` SIGTERM first. */
export type CliProcess = StartedProcess;

/** `node dist/src/cli.js <command>` with its JSON logs collected. */
export function spawnCli(command: string, env: Record<string, string>, cli = CLI): CliProcess {
  return spawnProcess(process.execPath, [cli, command], { name: command, env, graceMs: 15_000 });
}

export interface ApiInstance extends CliProcess {
  name: string;
  port: number;
  url: string;
}

export interface Cluster {
  redis: TestRedis;
  dataDir: string;
  env: Record<string, string>;
  worker: CliProcess;
  /** api1..N, on consecutive ports; an entry is replaced by `restartApi`. */
  apis: ApiInstance[];
  haproxy: Haproxy;
  /** Starts instance `i` (0-based) again on its port, after it exited. */
  restartApi(i: number): Promise<ApiInstance>;
  /** An extra API instance on a free port, outside HAProxy (stopped by close()). */
  startExtraApi(env?: Record<string, string>): Promise<ApiInstance>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  instances?: number;
  /** Environment for every vcfarm process. */
  env?: Record<string, string>;
  /** HAProxy template variables (CHECK_INTER, CHECK_FALL, ...). */
  haproxyEnv?: Record<string, string>;
  /** Sizes HAProxy's limits, as the deploy script's max_users does. Default 100. */
  maxUsers?: number;
  /** Another build's `dist/src/cli.js` (a bench's baseline); default this tree's. */
  cli?: string;
}

/**
 * Several `vcfarm api` processes behind a real HAProxy, one `vcfarm worker`, one redis-server:
 * the local multi-instance tier on free loopback ports, for one test file.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const n = opts.instances ?? 2;
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cluster-'));
  const env: Record<string, string> = {
    // Limits that tests not about limits never reach; a test about them passes its own PLANS_FILE.
    PLANS_FILE: writePlans(dataDir),
    DATA_DIR: dataDir,
    REDIS_URL: redis.url,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const extras: ApiInstance[] = [];
  // At info, so that "worker process ready" is printed.
  const worker = spawnCli('worker', { ...env, LOG_LEVEL: 'info', WORKER_ID: 'cluster-worker' }, opts.cli);
  const ports = await consecutiveFreePorts(n);
  const spawned: CliProcess[] = [worker];
  const startApi = async (name: string, port: number, extraEnv = {}): Promise<ApiInstance> => {
    const url = `http://127.0.0.1:${port}`;
    // Ready once /health answers (whatever LOG_LEVEL says about the "api listening" line).
    const p = await startProcess(process.execPath, [opts.cli ?? CLI, 'api'], {
      name,
      env: { ...env, ...extraEnv, PORT: String(port) },
      graceMs: 15_000,
      ready: () =>
        fetch(`${url}/health`).then(
          (r) => r.status === 200,
          () => false,
        ),
    });
    spawned.push(p);
    return { ...p, name, port, url };
  };
  let apis: ApiInstance[];
  let haproxy: Haproxy;
  try {
    apis = await Promise.all(ports.map((port, i) => startApi(`api${i + 1}`, port)));
    await worker.waitForLog('worker process ready');
    haproxy = await startHaproxy({
      instances: n,
      apiBasePort: ports[0],
      dir: dataDir,
      maxUsers: opts.maxUsers,
      env: { CHECK_INTER: '200ms', CHECK_FALL: '2', CHECK_RISE: '1', ...opts.haproxyEnv },
    });
  } catch (err) {
    // Nothing outlives a failed start.
    await Promise.all(spawned.map((p) => p.kill()));
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    redis,
    dataDir,
    env,
    worker,
    apis,
    haproxy,
    async restartApi(i) {
      apis[i] = await startApi(`api${i + 1}`, ports[i]);
      return apis[i];
    },
    async startExtraApi(extraEnv = {}) {
      const [port] = await consecutiveFreePorts(1);
      const api = await startApi(`extra${extras.length + 1}`, port, extraEnv);
      extras.push(api);
      return api;
    },
    async close() {
      await haproxy.stop();
      await Promise.all([...apis, ...extras].map((a) => a.kill()));
      await worker.stop();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
