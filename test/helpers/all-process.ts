import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writePlans } from './plans.js';
import { freePort } from './ports.js';
import { isAlive, spawnProcess, waitUntil } from './processes.js';
import { CLI } from './service.js';

/** One `vcfarm all` (supervisor, embedded Redis, API, worker) in its own DATA_DIR on a free port. */
export interface AllProcess {
  child: ChildProcess;
  dataDir: string;
  port: number;
  baseUrl: string;
  /** Every JSON log line of the supervisor and its worker so far. */
  logs: Record<string, unknown>[];
  stderr(): string;
  adminToken(): Promise<string>;
  redisPid(): Promise<number>;
  /** Resolves with the exit code (or the signal) once the supervisor has exited. */
  exited: Promise<number | string>;
  /** Pids of the worker processes it started so far (from their "worker process ready" lines). */
  workerPids(): number[];
  /** Kills whatever is left (supervisor, workers, Redis) and removes DATA_DIR. */
  cleanup(keepDataDir?: boolean): Promise<void>;
}

/**
 * `reuse`: start again on an earlier DATA_DIR and port (a restart). `env.DATA_DIR` starts it on an
 * existing (say, restored) DATA_DIR; cleanup() removes that too. `stdout`: a file descriptor for
 * the logs instead of the pipe (`/dev/full`: a full log disk; `logs` stays empty then).
 */
export async function startAll(
  env: Record<string, string> = {},
  reuse?: { dataDir: string; port: number },
  options: { stdout?: number } = {},
): Promise<AllProcess> {
  const dataDir = reuse?.dataDir ?? env.DATA_DIR ?? (await mkdtemp(path.join(os.tmpdir(), 'vcfarm-all-')));
  const port = reuse?.port ?? (await freePort());
  const fullEnv: NodeJS.ProcessEnv = {
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    POOL_SIZE: '1',
    PLANS_FILE: writePlans(dataDir),
    ...env,
  };
  // vcfarm all starts its own Redis: a REDIS_URL in this environment must not reach it.
  fullEnv.REDIS_URL = undefined;
  const started = spawnProcess(process.execPath, [CLI, 'all'], {
    name: 'vcfarm all',
    env: fullEnv,
    stdout: options.stdout,
  });
  const { process: child, logs } = started;
  const stderr = () => started.text.join('\n');
  const redisPids = new Set<number>();
  const notePid = setInterval(() => {
    void readFile(path.join(dataDir, 'run', 'redis.pid'), 'utf8')
      .then((s) => redisPids.add(Number(s)))
      .catch(() => {});
  }, 200);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      clearInterval(notePid);
      resolve(code ?? signal ?? -1);
    }),
  );
  const handle: AllProcess = {
    child,
    dataDir,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    logs,
    stderr,
    exited,
    adminToken: async () => (await readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim(),
    redisPid: async () => Number(await readFile(path.join(dataDir, 'run', 'redis.pid'), 'utf8')),
    workerPids: () => [
      ...new Set(logs.filter((l) => l.msg === 'worker process ready').map((l) => Number(l.pid))),
    ],
    async cleanup(keepDataDir = false) {
      const redisPid = await handle.redisPid().catch(() => 0);
      for (const pid of [child.pid ?? 0, ...handle.workerPids(), ...redisPids, redisPid]) {
        if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
      }
      if (!keepDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntil(
      () => stderr().includes('vcfarm is running') || child.exitCode !== null,
      60_000,
      'the start banner',
    );
    if (child.exitCode !== null) throw new Error(`vcfarm all exited at start: ${stderr()}`);
  } catch (err) {
    await handle.cleanup();
    throw err;
  }
  return handle;
}

/** GET /health: status code and body. */
export async function health(baseUrl: string): Promise<{ status: number; body: Record<string, string> }> {
  try {
    const res = await fetch(`${baseUrl}/health`);
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  } catch {
    return { status: 0, body: {} };
  }
}
