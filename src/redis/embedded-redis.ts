import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { UnavailableError } from '../errors/index.js';
import { withPassword } from './password.js';

export interface EmbeddedRedisOptions {
  /** Data directory for the AOF files; created if missing. */
  dir: string;
  /** Where the pid file goes, so a later start can clean up after a crash. */
  runDir: string;
  /** 0 = pick a free port on 127.0.0.1. */
  port?: number;
  logger?: Logger;
  /**
   * Called once when redis-server died and could not be brought back on its port (restarted up
   * to 5 times within a minute, with back-off). Without it, a dead redis-server stays dead.
   */
  onGiveUp?: (reason: string) => void;
  /** Required of every client (AUTH). Given to redis-server on its stdin, never on its command line. */
  password?: string;
}

const RESTART_LIMIT = 5;
const RESTART_WINDOW_MS = 60_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new UnavailableError(`redis-server exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new UnavailableError(`redis-server did not listen on port ${port} within ${timeoutMs} ms`);
}

/**
 * Owns one redis-server child process: starts it, watches it (restarted on the same port, with
 * its AOF, when it dies), and stops it on close.
 */
export class EmbeddedRedis {
  private child: ChildProcess | undefined;
  private port = 0;
  private stopping = false;
  private crashes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  /** How many times it was restarted after dying. */
  restarts = 0;

  constructor(private readonly options: EmbeddedRedisOptions) {}

  /** The URL clients use, with the password when there is one: never log it as is. */
  get url(): string {
    return withPassword(`redis://127.0.0.1:${this.port}`, this.options.password);
  }

  async start(): Promise<string> {
    const { dir, runDir, logger } = this.options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(runDir, { recursive: true });
    await this.killStale();
    // A restart keeps the port: every client reconnects to where it was.
    this.port = this.port || this.options.port || (await freePort());
    // biome-ignore format: flag/value pairs read best one pair per line
    const args = [
      // "-": the rest of the configuration (requirepass) is read from stdin, out of sight of `ps`.
      ...(this.options.password ? ['-'] : []),
      '--bind', '127.0.0.1',
      '--port', String(this.port),
      '--dir', dir,
      '--appendonly', 'yes',
      '--maxmemory-policy', 'noeviction',
      '--save', '',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
    ];
    // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops Redis last.
    const child = spawn('redis-server', args, {
      stdio: [this.options.password ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    child.stdin?.on('error', () => {});
    child.stdin?.end(`requirepass ${this.options.password}\n`);
    child.on('error', (err) => logger?.error({ err }, 'redis-server failed'));
    child.stdout?.resume();
    child.stderr?.on('data', (b: Buffer) =>
      logger?.warn({ redis: b.toString().trim() }, 'redis-server stderr'),
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) =>
        reject(
          new UnavailableError(
            (err as NodeJS.ErrnoException).code === 'ENOENT'
              ? 'redis-server is not installed (apt-get install redis-server), or set REDIS_URL'
              : `redis-server failed to start: ${err.message}`,
            { cause: err },
          ),
        ),
      );
    });
    await waitForPort(this.port, child, 10_000);
    await writeFile(this.pidFile, String(child.pid));
    logger?.info({ port: this.port, dir }, 'embedded redis-server started');
    this.watch(child);
    return this.url;
  }

  /** Synchronously, for a supervisor that is dying itself. */
  kill(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    if (this.child?.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private watch(child: ChildProcess): void {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.stopping || this.child !== child) return;
      const log = this.options.logger;
      const now = Date.now();
      this.crashes = this.crashes.filter((t) => now - t < RESTART_WINDOW_MS);
      this.crashes.push(now);
      if (this.crashes.length > RESTART_LIMIT) {
        log?.fatal({ code, signal }, 'redis-server keeps dying; giving up');
        this.options.onGiveUp?.(`redis-server died ${this.crashes.length} times within a minute`);
        return;
      }
      const delay = Math.min(250 * 2 ** (this.crashes.length - 1), 5000);
      log?.error(
        { code, signal, port: this.port, restartInMs: delay },
        'redis-server exited unexpectedly; restarting',
      );
      this.restartTimer = setTimeout(() => {
        this.restarts++;
        this.start().catch((err) => {
          log?.fatal({ err }, 'redis-server could not be restarted on its port');
          this.options.onGiveUp?.(`redis-server could not be restarted on port ${this.port}`);
        });
      }, delay);
    };
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
    else child.once('exit', onExit);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await rm(this.pidFile, { force: true });
  }

  private get pidFile(): string {
    return path.join(this.options.runDir, 'redis.pid');
  }

  /** A previous run killed with SIGKILL leaves its redis-server behind; end it before starting anew. */
  private async killStale(): Promise<void> {
    const pid = Number(await readFile(this.pidFile, 'utf8').catch(() => ''));
    if (!Number.isInteger(pid) || pid <= 0) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith('redis-server')) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
