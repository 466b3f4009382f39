import { EventEmitter } from 'node:events';
import { type Job, type Processor, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { withDeadline } from '../src/lifecycle/core.js';
import { bullConnection, REDIS_QUIT_DEADLINE_MS } from '../src/redis/core.js';

/**
 * Once no job runs, how long closing lanes get to record their last results and let go of
 * Redis; BullMQ's close waits forever on a Redis that is gone, so after this they are cut.
 */
const CLOSE_AFTER_IDLE_MS = 5000;

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
  /** Lanes closing (finishing their job), by their close. */
  private readonly leaving = new Map<Promise<void>, Worker<D, R>>();
  /** What ends each lane's connection once the lane is closed (BullConnection.release). */
  private readonly releases = new Map<Worker<D, R>, () => void>();
  private paused = false;
  /** Jobs in the processor right now, across every lane. */
  private running = 0;
  private readonly idleWaiters = new Set<() => void>();

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
      const closing = lane
        .close()
        .catch((err) => this.options.logger.warn({ err }, 'lane close failed'))
        .finally(() => this.release(lane));
      this.leaving.set(closing, lane);
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
    await Promise.all([...this.leaving.keys()]);
  }

  /**
   * Stops fetching and waits for every running job to finish. Lanes whose close still waits
   * CLOSE_AFTER_IDLE_MS after the last job ended (Redis gone: BullMQ retries it forever) are
   * disconnected.
   */
  async close(): Promise<void> {
    await this.resize(0);
    let timer: NodeJS.Timeout | undefined;
    const cut = this.idle().then(
      () =>
        new Promise<'cut'>((resolve) => {
          timer = setTimeout(() => resolve('cut'), CLOSE_AFTER_IDLE_MS);
        }),
    );
    const outcome = await Promise.race([this.settled(), cut]);
    clearTimeout(timer);
    if (outcome !== 'cut') return;
    this.options.logger.warn(
      { lanes: this.leaving.size },
      'job lanes did not close after their last job (Redis unreachable?); disconnecting them',
    );
    await withDeadline(
      Promise.all([...this.leaving.values()].map((lane) => lane.disconnect().catch(() => {}))),
      REDIS_QUIT_DEADLINE_MS,
    );
    for (const lane of this.leaving.values()) this.release(lane);
  }

  private release(lane: Worker<D, R>): void {
    this.releases.get(lane)?.();
    this.releases.delete(lane);
  }

  /** Resolves once no job is in the processor. */
  private idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  /**
   * The processor, counting the jobs inside it. BullMQ gets the processor's own promise back (no
   * extra await in between), so a job's end is recorded exactly as soon as without the count.
   */
  private readonly counted: Processor<D, R> = (job, token, signal) => {
    this.running++;
    let result: Promise<R>;
    try {
      result = this.options.processor(job, token, signal);
    } catch (err) {
      result = Promise.reject(err);
    }
    result
      .finally(() => {
        this.running--;
        if (this.running > 0) return;
        for (const resolve of this.idleWaiters) resolve();
        this.idleWaiters.clear();
      })
      .catch(() => {});
    return result;
  };

  private open(index: number): Worker<D, R> {
    const o = this.options;
    const bull = bullConnection(o.redisUrl);
    const lane = new Worker<D, R>(o.queueName, this.counted, {
      connection: bull.connection,
      prefix: o.prefix,
      concurrency: 1,
      lockDuration: o.lockDurationMs,
      stalledInterval: o.stalledIntervalMs,
      maxStalledCount: 2,
      // One stalled-job checker per process is enough; lane 0 lives as long as the process.
      skipStalledCheck: index > 0,
    });
    this.releases.set(lane, bull.release);
    lane.on('completed', (job: Job<D, R>, result: R) => this.emit('completed', job, result));
    lane.on('failed', (job: Job<D, R> | undefined, err: Error) => this.emit('failed', job, err));
    lane.on('error', (err: Error) => this.emit('error', err));
    if (this.paused) void lane.pause(true);
    return lane;
  }
}
