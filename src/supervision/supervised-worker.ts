import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { isRunning, killGroup, stopChild } from './child.js';

export interface SupervisedWorkerOptions {
  cliPath: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Crashes within `windowMs` after which the supervisor gives up. */
  restartLimit: number;
  /** Default 60 s. */
  windowMs?: number;
  /** First restart delay (default 500 ms), doubling per recent crash up to `maxBackoffMs` (default 10 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called once, when the worker crashed `restartLimit` times within `windowMs`. */
  onGiveUp: (reason: string) => void;
}

/**
 * The worker process of `vcfarm all`: restarted with back-off when it dies unexpectedly, given
 * up on (so a service manager takes over) after too many crashes in a short time.
 */
export class SupervisedWorker {
  private child: ChildProcess | undefined;
  private closing = false;
  private crashes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  /** How many times it was restarted after a crash. */
  restarts = 0;

  constructor(private readonly options: SupervisedWorkerOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const child = spawn(process.execPath, [this.options.cliPath, 'worker'], {
      env: this.options.env,
      stdio: ['ignore', 'inherit', 'inherit'],
      // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops it in order.
      detached: true,
    });
    this.child = child;
    child.on('error', (err) => this.options.logger.error({ err }, 'worker process failed to start'));
    child.once('exit', (code, signal) => this.onExit(code, signal));
  }

  /** Stops it: SIGTERM (running jobs finish), SIGKILL to its group after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    await stopChild(this.child, graceMs);
  }

  /** At once, synchronously: for a supervisor that is dying itself. */
  kill(): void {
    this.closing = true;
    clearTimeout(this.restartTimer);
    killGroup(this.child);
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.closing) return;
    const o = this.options;
    const now = Date.now();
    const windowMs = o.windowMs ?? 60_000;
    this.crashes = this.crashes.filter((t) => now - t < windowMs);
    this.crashes.push(now);
    if (this.crashes.length >= o.restartLimit) {
      const reason = `the worker process crashed ${this.crashes.length} times within ${windowMs / 1000} s`;
      o.logger.fatal({ code, signal }, `${reason}; giving up`);
      this.closing = true;
      o.onGiveUp(reason);
      return;
    }
    const delay = Math.min(
      (o.minBackoffMs ?? 500) * 2 ** (this.crashes.length - 1),
      o.maxBackoffMs ?? 10_000,
    );
    o.logger.error(
      { code, signal, restartInMs: delay, recentCrashes: this.crashes.length },
      'worker process exited unexpectedly; restarting',
    );
    this.restartTimer = setTimeout(() => {
      this.restarts++;
      this.start();
    }, delay);
  }
}
