import { EventEmitter } from 'node:events';
import { type Job, type Processor, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { bullConnection } from '../src/redis/index.js';

export interface JobLanesOptions<D, R> {
  queueName: string;
  redisUrl: string;
  prefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  processor: Processor<D, R>;
  logger: Logger;
}

/**
 * Takes jobs from the queue for one worker process: one BullMQ Worker of concurrency 1 per pool
 * thread ("lane"), so the process never holds more jobs than it has threads.
 *
 * Why lanes and not one Worker whose concurrency follows the pool: BullMQ reads a raised
 * concurrency only after one of its running jobs ends, so a pool grown while every thread was
 * busy gave its new threads nothing until then (measured: about one job's length, 0.9 s for a
 * 6 s clip, minutes for long files). A new lane starts fetching at once. Shrinking closes the
 * newest lanes: they stop fetching at once and close after their current job.
 *
 * Events: 'completed' (job, result), 'failed' (job, error), 'error' (error), from every lane.
 */
export class JobLanes<D, R> extends EventEmitter {
  private lanes: Worker<D, R>[] = [];
  private readonly leaving = new Set<Promise<void>>();
  private paused = false;

  constructor(private readonly options: JobLanesOptions<D, R>) {
    super();
  }

  get size(): number {
    return this.lanes.length;
  }

  /** Opens or closes lanes to `size`; closing lanes finish their current job in the background. */
  async resize(size: number): Promise<void> {
    while (this.lanes.length < size) this.lanes.push(this.open(this.lanes.length));
    const surplus = this.lanes.splice(size);
    for (const lane of surplus) {
      const closing = lane.close().catch((err) => this.options.logger.warn({ err }, 'lane close failed'));
      this.leaving.add(closing);
      void closing.finally(() => this.leaving.delete(closing));
    }
    await Promise.all(this.lanes.map((l) => l.waitUntilReady()));
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops fetching on every lane (and on lanes opened later); running jobs go on. */
  async pause(): Promise<void> {
    this.paused = true;
    await Promise.all(this.lanes.map((l) => l.pause(true)));
  }

  resume(): void {
    this.paused = false;
    for (const lane of this.lanes) void lane.resume();
  }

  /** Resolves once every closing lane has finished its job (and the queue has recorded it). */
  async settled(): Promise<void> {
    await Promise.all([...this.leaving]);
  }

  /** Stops fetching and waits for every running job to finish. */
  async close(): Promise<void> {
    await this.resize(0);
    await Promise.all([...this.leaving]);
  }

  private open(index: number): Worker<D, R> {
    const o = this.options;
    const lane = new Worker<D, R>(o.queueName, o.processor, {
      connection: bullConnection(o.redisUrl),
      prefix: o.prefix,
      concurrency: 1,
      lockDuration: o.lockDurationMs,
      stalledInterval: o.stalledIntervalMs,
      maxStalledCount: 2,
      // One stalled-job checker per process is enough; lane 0 lives as long as the process.
      skipStalledCheck: index > 0,
    });
    lane.on('completed', (job: Job<D, R>, result: R) => this.emit('completed', job, result));
    lane.on('failed', (job: Job<D, R> | undefined, err: Error) => this.emit('failed', job, err));
    lane.on('error', (err: Error) => this.emit('error', err));
    if (this.paused) void lane.pause(true);
    return lane;
  }
}
