import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Processes whose command line contains `needle` (Linux /proc). */
export function processesMatching(needle: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) found.push({ pid: Number(name), cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Whether a process of this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
  /** What is awaited, for the error; a function is read only on a timeout (to show state then). */
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Calls `onEntry` for every JSON log line a child process writes to `stream` (pino's), and
 * `onText` for any other line. One line reader (node:readline) for every test helper.
 */
export function onLogLines(
  stream: Readable | null,
  onEntry: (entry: Record<string, unknown>, line: string) => void,
  onText: (line: string) => void = () => {},
): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      onText(line);
      return;
    }
    if (entry !== null && typeof entry === 'object') onEntry(entry as Record<string, unknown>, line);
    else onText(line);
  });
}

/** A child process started by `startProcess`, with its output collected. */
export interface StartedProcess {
  name: string;
  process: ChildProcess;
  /** Every JSON log line it printed on stdout so far (pino's). */
  logs: Record<string, unknown>[];
  /** Its other output, line by line (stderr, and stdout lines that are not JSON); the last 500. */
  text: string[];
  /** The last 2 KB it wrote to stderr. */
  stderr(): string;
  /** Everything it wrote to stdout and stderr, as it came (for "is this secret anywhere" checks). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line whose `msg` is `msg`; rejects on a timeout or an exit before it. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after `graceMs` (default: the start's `graceMs`); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Names it in messages (default: the command's base name). */
  name?: string;
  /** Added to this process's environment (a key set to undefined is removed). */
  env?: NodeJS.ProcessEnv;
  /** false: `env` is the whole environment, nothing of this process's is passed on. Default true. */
  inheritEnv?: boolean;
  /** stdin: closed (default) or a pipe. */
  stdin?: 'ignore' | 'pipe';
  /** stdout: a pipe read by the helper (default), or a file descriptor (`/dev/full` for a full log disk). */
  stdout?: 'pipe' | number;
  /** stop()'s default time between SIGTERM and SIGKILL, in ms (default 10 s; 0: SIGKILL at once). */
  graceMs?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Whatever a test left running dies with the test process, however that process ends. */
function register(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/**
 * The one way tests start a long-lived process (redis-server, haproxy, prometheus, vcfarm's
 * commands, ...): spawned under `setpriv --pdeathsig KILL`, so the kernel kills it when the test
 * process dies by any path, SIGKILL included (node --test SIGTERMs a file that outlives
 * --test-timeout, and its after() hooks never run); also killed at the test process's exit.
 * stdout's JSON lines are collected through `onLogLines`; VCFARM_TEST_LOG echoes every line.
 */
export function spawnProcess(command: string, args: string[], options: StartOptions = {}): StartedProcess {
  const name = options.name ?? path.basename(command);
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], {
    env: { ...(options.inheritEnv === false ? {} : process.env), ...options.env },
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', 'pipe'],
  });
  register(child);
  const logs: Record<string, unknown>[] = [];
  const text: string[] = [];
  let stderrTail = '';
  let output = '';
  const keep = (line: string) => {
    text.push(line);
    if (text.length > 500) text.splice(0, text.length - 500);
  };
  const waiters = new Set<(entry: Record<string, unknown>) => void>();
  onLogLines(
    child.stdout,
    (entry, line) => {
      logs.push(entry);
      output += `${line}\n`;
      if (process.env.VCFARM_TEST_LOG) process.stderr.write(`[${name}] ${line}\n`);
      for (const w of waiters) w(entry);
    },
    (line) => {
      output += `${line}\n`;
      keep(line);
    },
  );
  child.stderr?.on('data', (b: Buffer) => {
    const s = b.toString();
    output += s;
    stderrTail = (stderrTail + s).slice(-2000);
    for (const line of s.split('\n')) if (line) keep(line);
    if (process.env.VCFARM_TEST_LOG) process.stderr.write(b);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const started: StartedProcess = {
    name,
    process: child,
    logs,
    text,
    stderr: () => stderrTail,
    output: () => output,
    exited,
    waitForLog(msg, timeoutMs = 30_000) {
      const seen = logs.find((l) => l.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const done = (err?: Error, entry?: Record<string, unknown>) => {
          clearTimeout(timer);
          waiters.delete(onEntry);
          if (err) reject(err);
          else resolve(entry ?? {});
        };
        const onEntry = (entry: Record<string, unknown>) => {
          if (entry.msg === msg) done(undefined, entry);
        };
        const timer = setTimeout(() => done(new Error(`${name}: no "${msg}" in ${timeoutMs} ms`)), timeoutMs);
        waiters.add(onEntry);
        void exited.then(({ code, signal }) =>
          done(new Error(`${name} exited (${code ?? signal}) before "${msg}"; stderr: ${stderrTail.trim()}`)),
        );
      });
    },
    async stop(graceMs = options.graceMs ?? 10_000) {
      if (!running()) return;
      child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      const timer = graceMs > 0 ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
  return started;
}

/**
 * `spawnProcess`, then waits until `ready` holds (polled every 50 ms) or the process exits or
 * `timeoutMs` passes; on failure the process is killed and the error names its stderr.
 */
export async function startProcess(
  command: string,
  args: string[],
  options: StartOptions & {
    ready: (p: StartedProcess) => boolean | Promise<boolean>;
    readyTimeoutMs?: number;
  },
): Promise<StartedProcess> {
  const p = spawnProcess(command, args, options);
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await options.ready(p)) return p;
    const exited = p.process.exitCode !== null || p.process.signalCode !== null;
    if (exited || Date.now() > deadline) {
      await p.kill();
      const last = p.logs.at(-1)?.msg;
      throw new Error(
        `${p.name} did not start (${exited ? `exit ${p.process.exitCode ?? p.process.signalCode}` : `not ready in ${timeoutMs} ms`}; ` +
          `last log ${JSON.stringify(last)}; stderr: ${p.stderr().trim() || 'empty'})`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
