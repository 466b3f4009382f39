import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import type { IdentifyTask, PoolThreadData, ThreadIdentity } from '../tasks/pool-thread.js';
import type { ConvertTask, TaskOutcome } from '../tasks/task-types.js';

export interface WorkerPoolOptions {
  /** Absolute path of the Piscina task module (dist/workers/tasks/pool-thread.js). */
  filename: string;
  size: number;
  /** Cores the process may use; thread i is pinned to cores[i % cores.length]. */
  cores: number[];
  pin: boolean;
  logger: Logger;
}

export interface ThreadInfo {
  index: number;
  core: number | null;
  tid: number | null;
  cpuList: string | null;
  busyWith: string | null;
}

interface Slot {
  index: number;
  pool: Piscina;
  core: number | null;
  identity: ThreadIdentity | undefined;
  busyWith: string | null;
}

/**
 * Owns the pool threads: one single-thread Piscina per slot, each thread pinned to its own
 * core. Running tasks are never terminated (terminating a thread inside an ONNX Runtime
 * session aborts the whole process); cancellation goes through the task's control block.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];

  constructor(private readonly options: WorkerPoolOptions) {}

  async start(): Promise<void> {
    for (let i = 0; i < this.options.size; i++) this.slots.push(this.createSlot(i));
    await Promise.all(this.slots.map((s) => this.identify(s)));
  }

  get size(): number {
    return this.slots.length;
  }

  get busyCount(): number {
    return this.slots.filter((s) => s.busyWith !== null).length;
  }

  threads(): ThreadInfo[] {
    return this.slots.map((s) => ({
      index: s.index,
      core: s.identity?.core ?? null,
      tid: s.identity?.tid ?? null,
      cpuList: s.identity?.cpuList ?? null,
      busyWith: s.busyWith,
    }));
  }

  /** Runs one conversion on an idle thread. The caller (BullMQ concurrency) never asks for more than `size`. */
  async run(task: ConvertTask): Promise<TaskOutcome> {
    const slot = this.slots.find((s) => s.busyWith === null);
    if (!slot) throw new Error(`pool of ${this.slots.length} threads is fully busy`);
    slot.busyWith = task.jobId;
    try {
      return (await slot.pool.run(task)) as TaskOutcome;
    } finally {
      slot.busyWith = null;
    }
  }

  /** Waits for running tasks (callers stop feeding first), then ends the threads. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.pool.close()));
  }

  private createSlot(index: number): Slot {
    const { cores, pin, filename } = this.options;
    const core = pin && cores.length > 0 ? cores[index % cores.length] : null;
    const workerData: PoolThreadData = { core };
    const pool = new Piscina({
      filename,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      atomics: 'disabled',
      workerData,
    });
    pool.on('error', (err: unknown) =>
      this.options.logger.error({ err, thread: index }, 'pool thread error'),
    );
    return { index, pool, core, identity: undefined, busyWith: null };
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
