import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import type { IdentifyTask, PoolThreadData, ThreadIdentity } from '../tasks/pool-thread.js';
import type { CloneTask, ConvertTask, TaskOutcome } from '../tasks/task-types.js';
import { pickCore } from './placement.js';

export interface WorkerPoolOptions {
  /** Absolute path of the Piscina task module (dist/workers/tasks/pool-thread.js). */
  filename: string;
  size: number;
  /** Cores the process may use (its affinity mask). */
  cores: number[];
  pin: boolean;
  /**
   * A model folder each thread loads as it starts (the default model), so a thread's first voice
   * job does not wait for its ONNX Runtime sessions. Default: none (loaded by the first job).
   */
  preloadModelDir?: string;
  logger: Logger;
}

export interface ThreadInfo {
  index: number;
  core: number | null;
  tid: number | null;
  cpuList: string | null;
  busyWith: string | null;
  /** Leaving after its current job (the pool was shrunk). */
  retiring: boolean;
  /** Another live thread is pinned to the same core (more threads than cores). */
  sharedCore: boolean;
}

export interface ResizeResult {
  previous: number;
  size: number;
  /** Busy threads that will leave once their current job ends. */
  draining: number;
}

interface Slot {
  index: number;
  pool: Piscina;
  core: number | null;
  identity: ThreadIdentity | undefined;
  busyWith: string | null;
  retiring: boolean;
  /** ONNX Runtime sessions the thread holds now (it keeps this counter up to date). */
  ortSessions: Int32Array;
}

/**
 * Owns the pool threads: one single-thread Piscina per slot, each thread pinned to a core, and
 * resizable at run time. A busy thread is never terminated (terminating a thread inside an
 * ONNX Runtime session aborts the whole process): shrinking marks surplus threads as retiring,
 * they take no new task and leave when their current one ends. Growing starts and pins new
 * threads before they are offered any task.
 *
 * Events: 'drained' when the last retiring thread has left; 'idle' when a thread becomes free.
 */
export class WorkerPool extends EventEmitter {
  private slots: Slot[] = [];
  private nextIndex = 0;
  private waiters: (() => void)[] = [];
  private resizing: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: WorkerPoolOptions) {
    super();
  }

  async start(): Promise<void> {
    await this.resize(this.options.size);
  }

  /** Threads that may take tasks: the requested size. */
  get size(): number {
    return this.slots.filter((s) => !s.retiring).length;
  }

  /** Every live thread, retiring ones included. */
  get threadCount(): number {
    return this.slots.length;
  }

  get busyCount(): number {
    return this.slots.filter((s) => s.busyWith !== null).length;
  }

  /** ONNX Runtime sessions held by the live threads now. */
  ortSessions(): number {
    return this.slots.reduce((n, s) => n + Atomics.load(s.ortSessions, 0), 0);
  }

  get drainingCount(): number {
    return this.slots.filter((s) => s.retiring).length;
  }

  threads(): ThreadInfo[] {
    const perCore = new Map<number, number>();
    for (const s of this.slots) if (s.core !== null) perCore.set(s.core, (perCore.get(s.core) ?? 0) + 1);
    return this.slots.map((s) => ({
      index: s.index,
      core: s.identity?.core ?? null,
      tid: s.identity?.tid ?? null,
      cpuList: s.identity?.cpuList ?? null,
      busyWith: s.busyWith,
      retiring: s.retiring,
      sharedCore: s.core !== null && (perCore.get(s.core) ?? 0) > 1,
    }));
  }

  /**
   * Sets the number of threads that take tasks. Resolves once new threads are pinned and
   * ready; surplus busy threads may still be draining then (see `draining`, 'drained').
   * Calls are serialised.
   */
  resize(size: number): Promise<ResizeResult> {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`pool size must be a positive integer, got ${size}`);
    const run = this.resizing.then(() => this.applyResize(size));
    this.resizing = run.catch(() => {});
    return run;
  }

  /**
   * Runs one conversion on an idle thread that is not retiring. The job lanes keep callers
   * within `size`; if a job slips in during a shrink it waits for a thread rather than
   * overshooting the requested size.
   */
  async run(task: ConvertTask | CloneTask): Promise<TaskOutcome> {
    let slot = this.idleSlot();
    while (!slot) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      slot = this.idleSlot();
    }
    slot.busyWith = task.jobId;
    try {
      return (await slot.pool.run(task)) as TaskOutcome;
    } finally {
      slot.busyWith = null;
      // The thread's work is done; it leaves in the background so the job completes at once.
      if (slot.retiring) void this.retire(slot);
      else this.wakeOne();
    }
  }

  /** Runs an empty task on an idle thread: the pool's own round-trip cost, for benchmarks and checks. */
  async ping(): Promise<ThreadIdentity> {
    let slot = this.idleSlot();
    while (!slot) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      slot = this.idleSlot();
    }
    slot.busyWith = 'ping';
    try {
      const task: IdentifyTask = { kind: 'identify' };
      return (await slot.pool.run(task)) as ThreadIdentity;
    } finally {
      slot.busyWith = null;
      if (slot.retiring) void this.retire(slot);
      else this.wakeOne();
    }
  }

  /** Waits for running tasks (callers stop feeding first), then ends every thread. */
  async close(): Promise<void> {
    await this.resizing;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.pool.close()));
  }

  private async applyResize(size: number): Promise<ResizeResult> {
    const previous = this.size;
    let active = this.slots.filter((s) => !s.retiring);
    if (size > active.length) {
      // Take back threads that were leaving before starting new ones.
      for (const s of this.slots) {
        if (active.length >= size) break;
        if (s.retiring) {
          s.retiring = false;
          active = this.slots.filter((x) => !x.retiring);
        }
      }
      const fresh: Slot[] = [];
      while (active.length + fresh.length < size) {
        const slot = this.createSlot([...active, ...fresh]);
        fresh.push(slot);
      }
      // New threads join only once pinned, so no task runs on an unpinned thread.
      await Promise.all(fresh.map((s) => this.identify(s)));
      this.slots.push(...fresh);
      for (let i = 0; i < fresh.length; i++) this.wakeOne();
    } else if (size < active.length) {
      const surplus = active.length - size;
      const chosen = this.chooseToRetire(active, surplus);
      for (const s of chosen) s.retiring = true;
      await Promise.all(chosen.filter((s) => s.busyWith === null).map((s) => this.retire(s)));
    }
    this.options.logger.info({ previous, size, draining: this.drainingCount }, 'pool resized');
    return { previous, size: this.size, draining: this.drainingCount };
  }

  /** Idle threads leave first; among equals, those on the most crowded cores. */
  private chooseToRetire(active: Slot[], count: number): Slot[] {
    const crowd = (core: number | null) => active.filter((s) => s.core === core).length;
    return [...active]
      .sort((a, b) => {
        const idle = Number(a.busyWith !== null) - Number(b.busyWith !== null);
        if (idle !== 0) return idle;
        return crowd(b.core) - crowd(a.core) || b.index - a.index;
      })
      .slice(0, count);
  }

  private async retire(slot: Slot): Promise<void> {
    this.slots = this.slots.filter((s) => s !== slot);
    await slot.pool.close();
    this.options.logger.info({ thread: slot.index, core: slot.core }, 'pool thread left');
    if (this.drainingCount === 0) this.emit('drained');
  }

  private idleSlot(): Slot | undefined {
    return this.slots.find((s) => s.busyWith === null && !s.retiring);
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
    this.emit('idle');
  }

  private createSlot(others: Slot[]): Slot {
    const { cores, pin, filename } = this.options;
    const core =
      pin && cores.length > 0
        ? pickCore(
            cores,
            others.map((s) => s.core),
          )
        : null;
    const sessions = new SharedArrayBuffer(4);
    const workerData: PoolThreadData = { core, sessions, preload: this.options.preloadModelDir };
    const pool = new Piscina({
      filename,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      atomics: 'disabled',
      workerData,
    });
    const index = this.nextIndex++;
    pool.on('error', (err: unknown) =>
      this.options.logger.error({ err, thread: index }, 'pool thread error'),
    );
    return {
      index,
      pool,
      core,
      identity: undefined,
      busyWith: null,
      retiring: false,
      ortSessions: new Int32Array(sessions),
    };
  }

  private async identify(slot: Slot): Promise<void> {
    const task: IdentifyTask = { kind: 'identify' };
    slot.identity = (await slot.pool.run(task)) as ThreadIdentity;
    const { logger } = this.options;
    if (slot.identity.pinError)
      logger.warn({ thread: slot.index, err: slot.identity.pinError }, 'thread not pinned');
    else
      logger.info(
        { thread: slot.index, core: slot.identity.core, tid: slot.identity.tid },
        'pool thread ready',
      );
  }
}
