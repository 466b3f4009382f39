import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const LAUNCHER = fileURLToPath(new URL('./launcher-process.js', import.meta.url));

type Reply =
  | { id: number; pid: number }
  | { id: number; out: string }
  | { id: number; err: string }
  | { id: number; error: string }
  | { id: number; exit: number | null; signal: NodeJS.Signals | null };

/**
 * A process started by the launcher, shaped like the part of a ChildProcess the pipeline uses:
 * its output as streams, `exitCode` / `signalCode`, `kill()`, and 'close' (after the output has
 * ended) and 'error' events.
 */
export class LaunchedProcess extends EventEmitter {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** The process id, once the launcher has said it. */
  pid: number | undefined;

  constructor(
    private readonly id: number,
    private readonly owner: Launcher,
  ) {
    super();
  }

  /** SIGKILL (the only signal the pipeline sends); true while the process may still run. */
  kill(_signal: 'SIGKILL' = 'SIGKILL'): boolean {
    if (this.exitCode !== null || this.signalCode !== null) return false;
    this.owner.kill(this.id);
    return true;
  }

  /** @internal the launcher's reply about this process */
  receive(reply: Reply): void {
    if ('pid' in reply) this.pid = reply.pid;
    else if ('out' in reply) this.stdout.write(reply.out);
    else if ('err' in reply) this.stderr.write(reply.err);
    else if ('error' in reply) this.emit('error', new Error(reply.error));
    else this.ended(reply.exit, reply.signal);
  }

  /**
   * @internal The launcher died: the process (left to init) is killed here, and ends as failed
   * for a reason another attempt may not have.
   */
  orphaned(): void {
    if (this.pid !== undefined && this.exitCode === null && this.signalCode === null) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (this.listenerCount('error') > 0) this.emit('error', new Error('the ffmpeg launcher stopped'));
    this.ended(null, 'SIGKILL');
  }

  /** @internal */
  ended(exit: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    this.exitCode = exit;
    this.signalCode = exit === null ? (signal ?? 'SIGKILL') : null;
    this.stdout.end();
    this.stderr.end();
    this.emit('close', this.exitCode, this.signalCode);
  }
}

type LauncherChild = ChildProcessByStdio<Writable, Readable, null>;

/**
 * One pool thread's launcher process (workers/tasks/launcher-process.ts), started with the thread
 * and owned by it: processes are started there instead of by forking the whole worker. If the
 * launcher dies, its running processes are killed from here and fail with an error (their jobs
 * fail as retryable VC_ERR_PIPELINE and run again), and the next start makes a new launcher. When the thread or the worker ends, the launcher's stdin
 * closes and it kills what it started.
 */
export class Launcher {
  private child: LauncherChild | undefined;
  private readonly running = new Map<number, LaunchedProcess>();
  private nextId = 1;

  /** Starts the launcher process now (it is started on first use otherwise). */
  warm(): void {
    this.ensure();
  }

  /** Starts `command` with stdio ignore, pipe, pipe, as `child_process.spawn` would. */
  spawn(command: string, args: string[]): LaunchedProcess {
    const launcher = this.ensure();
    const id = this.nextId++;
    const proc = new LaunchedProcess(id, this);
    this.running.set(id, proc);
    launcher.stdin.write(`${JSON.stringify({ id, command, args })}\n`);
    return proc;
  }

  /** @internal */
  kill(id: number): void {
    this.child?.stdin.write(`${JSON.stringify({ id, kill: true })}\n`);
  }

  private ensure(): LauncherChild {
    if (this.child) return this.child;
    const child = spawn(process.execPath, [LAUNCHER], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    child.stdin.on('error', () => {}); // a dead launcher shows as its exit
    createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      const proc = this.running.get(reply.id);
      if ('exit' in reply) this.running.delete(reply.id);
      proc?.receive(reply);
    });
    const gone = () => {
      if (this.child !== child) return;
      this.child = undefined;
      for (const proc of this.running.values()) proc.orphaned();
      this.running.clear();
    };
    child.on('error', gone);
    child.on('close', gone);
    return child;
  }
}

/** This thread's launcher. */
export const launcher = new Launcher();
