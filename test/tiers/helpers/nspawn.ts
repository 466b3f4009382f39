import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from '../../helpers/processes.js';

const execFileAsync = promisify(execFile);

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, never throwing on a non-zero exit: the caller asserts on the result. */
export async function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? e.message,
    };
  }
}

/** Like `run`, but a non-zero exit throws with the command's output. */
export async function must(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Direct children of a host process (all its threads), from /proc. */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((t) =>
    readText(`/proc/${pid}/task/${t}/children`).split(/\s+/).filter(Boolean).map(Number),
  );
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * A Debian root booted with real systemd as PID 1 under `systemd-nspawn -b`, on a private
 * network: nothing in it is reachable from the host's network, and everything the test does
 * inside goes through `nsenter` into the container's namespaces (commands, HTTP clients).
 * Processes inside are only ever signalled through systemctl in the container.
 */
export class Container {
  private constructor(
    readonly root: string,
    private readonly nspawn: ChildProcess,
    /** Host PID of the container's systemd (its PID 1). */
    readonly leader: number,
  ) {}

  /**
   * Boots `root`. Options: `netns`, a named network namespace (`ip netns add`) to join instead
   * of a private network of its own (a host on a lab's bridge); `binds`, `host:container` paths;
   * `hostname`, the container's host name (worker ids derive from it).
   */
  static async boot(
    root: string,
    logFile: string,
    opts: { netns?: string; binds?: string[]; hostname?: string } = {},
  ): Promise<Container> {
    const log = openSync(logFile, 'a');
    const network = opts.netns
      ? [`--network-namespace-path=/run/netns/${opts.netns}`]
      : ['--private-network'];
    const nspawn = spawn(
      'systemd-nspawn',
      [
        '-D',
        root,
        '--register=no',
        '--keep-unit',
        ...network,
        ...(opts.binds ?? []).map((b) => `--bind=${b}`),
        ...(opts.hostname ? [`--hostname=${opts.hostname}`] : []),
        '--console=pipe',
        '-q',
        '-b',
      ],
      { stdio: ['ignore', log, log] },
    );
    let leader = 0;
    await waitUntil(
      () => {
        if (nspawn.exitCode !== null)
          throw new Error(`systemd-nspawn exited ${nspawn.exitCode}; see ${logFile}`);
        // nspawn forks once (the container's init runs as a child of the inner nspawn).
        const inner = childrenOf(nspawn.pid ?? 0);
        for (const pid of [nspawn.pid ?? 0, ...inner]) {
          for (const child of childrenOf(pid)) {
            if (readText(`/proc/${child}/comm`).trim() === 'systemd') leader = child;
          }
        }
        return leader > 0;
      },
      60_000,
      'the container to start systemd',
    );
    const c = new Container(root, nspawn, leader);
    await waitUntil(
      async () => {
        const state = (await c.exec(['systemctl', 'is-system-running'])).stdout.trim();
        return state === 'running' || state === 'degraded';
      },
      180_000,
      'the container to finish booting',
    );
    return c;
  }

  /** A command inside the container (all its namespaces, its root and binaries). */
  exec(args: string[], timeoutMs?: number): Promise<Run> {
    return run('nsenter', ['-t', String(this.leader), '-a', ...args], timeoutMs);
  }

  async systemctl(...args: string[]): Promise<string> {
    const r = await this.exec(['systemctl', ...args]);
    if (r.code !== 0) throw new Error(`systemctl ${args.join(' ')}: ${r.code} ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  }

  async show(unit: string, property: string): Promise<string> {
    return this.systemctl('show', unit, '-p', property, '--value');
  }

  /** A host program run inside the container's network namespace only (host files, its network). */
  inNetns(args: string[], timeoutMs?: number): Promise<Run> {
    return run('nsenter', ['-t', String(this.leader), '-n', ...args], timeoutMs);
  }

  async journal(unit: string): Promise<string> {
    return (await this.exec(['journalctl', '--no-pager', '-o', 'cat', '-u', unit])).stdout;
  }

  /** Powers the container off and waits for nspawn; kills nspawn (our own child) if it hangs. */
  async poweroff(): Promise<void> {
    if (this.nspawn.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.nspawn.once('exit', () => resolve()));
      await this.exec(['systemctl', 'poweroff'], 10_000);
      const timer = setTimeout(() => this.nspawn.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    removeEmptyCgroups();
  }
}

/** nspawn leaves empty payload/supervisor cgroup folders behind on this hybrid-cgroup host. */
function removeEmptyCgroups(): void {
  for (const h of ['systemd', 'unified']) {
    for (const d of ['payload', 'supervisor']) {
      const top = path.join('/sys/fs/cgroup', h, d);
      if (existsSync(top)) removeDepthFirst(top);
    }
  }
}

function removeDepthFirst(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    try {
      if (statSync(p).isDirectory()) removeDepthFirst(p);
    } catch {
      // gone meanwhile
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    // not empty: something still runs in it
  }
}
