import os from 'node:os';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from '../src/redis/core.js';
import {
  type AutoscaleDecision,
  type AutoscaleOff,
  type AutoscaleOn,
  type AutoscaleSetting,
  type DesiredSize,
  decideAutoscale,
  type ScaleAck,
  type ScaleCommand,
  scalingKeys,
} from '../src/scaling/core.js';
import type { JobLanes } from './job-lanes.js';
import type { WorkerPool } from './pool/index.js';

export interface ScalingAgentOptions {
  workerId: string;
  prefix: string;
  cores: number;
  maxSize: number;
  /** AUTOSCALE from the environment: the setting until one is stored in Redis. */
  autoscale: { min: number; max: number } | undefined;
  idleMs: number;
  cooldownMs: number;
  intervalMs: number;
}

const RECENT_DECISIONS = 20;

/**
 * Keeps one worker process at the size the operator (or the autoscaler) wants: applies resize
 * commands from pub/sub, reconciles with the stored size at start and periodically, acknowledges
 * requests, and runs the autoscaling loop when enabled. It moves the job lanes with the pool so the queue never hands
 * this process more jobs than it has threads for.
 */
export class ScalingAgent {
  private readonly keys: ReturnType<typeof scalingKeys>;
  private setting: AutoscaleSetting;
  private pinnedByManualScale = false;
  private readonly recent: AutoscaleDecision[] = [];
  private lastChangeAt = 0;
  private idleSince: number | undefined = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private pendingAck: string | undefined;
  private pendingPrevious = 0;
  /**
   * The size before a request's first application. A request can be applied twice: a reconcile
   * that reads the stored request while the apply from its message is still under way sees the
   * old size and queues its own; that second one, a no-op, acknowledged "previous" as the new size
   * (test/integration/scaling-cluster.test.ts, reconciling every 50 ms).
   */
  private firstPrevious: { requestId: string; previous: number } | undefined;
  /** The last request this agent applied (from pub/sub or from the stored size). */
  private handledRequest: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly pool: WorkerPool,
    private readonly lanes: Pick<JobLanes<unknown, unknown>, 'resize' | 'settled'>,
    private readonly queue: Queue,
    private readonly log: Logger,
    private readonly options: ScalingAgentOptions,
  ) {
    this.keys = scalingKeys(options.prefix);
    this.setting = options.autoscale ? { enabled: true, ...options.autoscale } : { enabled: false };
  }

  /**
   * Subscribes first, then reads the stored size and applies it: a command published while this
   * worker starts is either heard or already stored, never lost between the two. From then on the
   * pool is reconciled with the stored size every `intervalMs` (level-triggered), so a missed
   * message or a worker that was not live when a request was made still ends at the stored size
   * and acknowledges the request. `fallback` is the size when nothing is stored.
   */
  async start(fallback: number): Promise<void> {
    this.pool.on('drained', () => void this.ackDrained());
    this.pool.on('idle', () => this.trackIdle());
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.keys.channel) return;
      try {
        this.handle(JSON.parse(message) as ScaleCommand);
      } catch (err) {
        this.log.warn({ err }, 'bad scale command');
      }
    });
    await this.subscriber.subscribe(this.keys.channel);
    const { stored, off, on } = await this.readStored();
    // Autoscaling starts small, like Celery's --autoscale, and grows when jobs wait; a stored
    // request that switched it on is acknowledged at that size.
    if (this.setting.enabled) await this.apply(this.setting.min, on?.requestId);
    else if (stored && !olderThan(stored, off)) await this.apply(stored.size, stored.requestId);
    else await this.apply(fallback);
    // Autoscaling was switched off after the stored size: this worker keeps the size it started at.
    if (!this.setting.enabled && off && olderThan(stored, off)) await this.keepSize(off);
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
  }

  /**
   * The stored desired size for this worker (its own, else everyone's) and when autoscaling was
   * last switched off; adopts a stored autoscale setting.
   */
  private async readStored(): Promise<{ stored?: DesiredSize; off?: AutoscaleOff; on?: AutoscaleOn }> {
    const [own, all, storedAutoscale, off, on] = await Promise.all([
      this.redis.hget(this.keys.desiredPerWorker, this.options.workerId),
      this.redis.get(this.keys.desired),
      this.redis.get(this.keys.autoscale),
      this.redis.get(this.keys.autoscaleOff),
      this.redis.get(this.keys.autoscaleOn),
    ]);
    if (storedAutoscale) {
      const setting = JSON.parse(storedAutoscale) as AutoscaleSetting;
      if (JSON.stringify(setting) !== JSON.stringify(this.setting)) {
        this.setting = setting;
        this.pinnedByManualScale = !setting.enabled;
      }
    }
    const stored = own ?? all;
    return {
      stored: stored ? (JSON.parse(stored) as DesiredSize) : undefined,
      off: off ? (JSON.parse(off) as AutoscaleOff) : undefined,
      on: on ? (JSON.parse(on) as AutoscaleOn) : undefined,
    };
  }

  /**
   * Level-triggered: brings the pool to the stored size when a command was missed. With
   * autoscaling switched off after that size was stored, the pool keeps the size it has instead;
   * switched on, the pool is brought inside the bounds and the request acknowledged.
   */
  private async reconcile(): Promise<void> {
    const { stored, off, on } = await this.readStored();
    if (this.setting.enabled) return on ? this.adoptAutoscale(on) : undefined;
    if (off && olderThan(stored, off)) return this.keepSize(off);
    if (!stored) return;
    if (this.clamp(stored.size) === this.pool.size && stored.requestId === this.handledRequest) return;
    this.log.info({ requestId: stored.requestId, size: stored.size }, 'reconciling with the stored size');
    await this.apply(stored.size, stored.requestId);
  }

  private async tick(): Promise<void> {
    try {
      await this.reconcile();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'scale reconcile failed');
    }
    await this.autoscaleTick();
  }

  autoscaleState() {
    const s = this.setting;
    return {
      enabled: s.enabled,
      min: s.enabled ? s.min : null,
      max: s.enabled ? s.max : null,
      pinnedByManualScale: this.pinnedByManualScale,
      recent: [...this.recent],
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private handle(cmd: ScaleCommand): void {
    if (cmd.type === 'autoscale') {
      this.setting = cmd.setting;
      this.pinnedByManualScale = false;
      this.log.info({ autoscale: cmd.setting }, 'autoscale setting changed');
      // By the same path as a reconcile that finds it stored: off, keep the size the pool has; on,
      // bring the pool inside the bounds.
      void this.reconcile().catch((err) => this.log.warn({ err }, 'autoscale setting not applied'));
      return;
    }
    if (cmd.workerId && cmd.workerId !== this.options.workerId) return;
    // Reconciliation may have read the stored request before its message arrived: apply once.
    if (cmd.requestId === this.handledRequest) return;
    if (!cmd.workerId) {
      this.setting = { enabled: false };
      this.pinnedByManualScale = true;
    }
    this.log.info({ requestId: cmd.requestId, size: cmd.size }, 'scale requested');
    void this.apply(cmd.size, cmd.requestId);
  }

  /**
   * Autoscaling was switched off: stores the size the pool has (once any resize under way has
   * ended) as this worker's own desired size, then acknowledges the request at that size. Once
   * per request, whether heard as a message or found by a reconcile.
   */
  private async keepSize(off: AutoscaleOff): Promise<void> {
    if (this.handledRequest === off.requestId) return;
    this.handledRequest = off.requestId;
    await this.chain;
    const desired: DesiredSize = { size: this.pool.size, requestId: off.requestId, at: Date.now() };
    await this.redis.hset(this.keys.desiredPerWorker, this.options.workerId, JSON.stringify(desired));
    this.log.info(
      { requestId: off.requestId, size: desired.size },
      'autoscale off: keeping the current size',
    );
    await this.apply(desired.size, off.requestId);
  }

  /**
   * Autoscaling was switched on (or its bounds changed): the pool is brought inside the bounds
   * (once any resize under way has ended) and the request acknowledged at that size; the
   * autoscaling loop decides from there. Once per request, whether heard as a message or found by a reconcile.
   */
  private async adoptAutoscale(on: AutoscaleOn): Promise<void> {
    const s = this.setting;
    if (!s.enabled || this.handledRequest === on.requestId) return;
    this.handledRequest = on.requestId;
    await this.chain;
    const size = Math.max(s.min, Math.min(s.max, this.pool.size));
    this.log.info({ requestId: on.requestId, size, min: s.min, max: s.max }, 'autoscale on: adopted');
    await this.apply(size, on.requestId);
  }

  /** Resizes in order: grow the pool before opening lanes, close lanes before shrinking the pool. */
  private apply(size: number, requestId?: string): Promise<unknown> {
    const target = this.clamp(size);
    if (requestId) this.handledRequest = requestId;
    const run = this.chain.then(async () => {
      const previous = this.pool.size;
      if (target >= this.pool.size) {
        await this.pool.resize(target);
        await this.lanes.resize(target);
      } else {
        await this.lanes.resize(target);
        await this.pool.resize(target);
      }
      this.lastChangeAt = Date.now();
      this.trackIdle();
      if (requestId) {
        this.pendingAck = this.pool.drainingCount > 0 ? requestId : undefined;
        if (this.firstPrevious?.requestId !== requestId) this.firstPrevious = { requestId, previous };
        this.pendingPrevious = this.firstPrevious.previous;
        if (!this.pendingAck) await this.lanes.settled();
        await this.ack(requestId);
      }
    });
    this.chain = run.catch((err) => this.log.error({ err }, 'resize failed'));
    return this.chain;
  }

  private async ack(requestId: string): Promise<void> {
    const ack: ScaleAck = {
      workerId: this.options.workerId,
      host: os.hostname(),
      pid: process.pid,
      previous: this.pendingPrevious,
      size: this.pool.size,
      applied: this.pool.drainingCount === 0,
      at: Date.now(),
    };
    await this.redis
      .multi()
      .hset(this.keys.acks(requestId), this.options.workerId, JSON.stringify(ack))
      .expire(this.keys.acks(requestId), 3600)
      .exec();
  }

  /**
   * The surplus threads are gone: acknowledge once the closing lanes are gone too, so that
   * "applied" also means the queue shows no more active jobs here than the new size.
   */
  private async ackDrained(): Promise<void> {
    const requestId = this.pendingAck;
    this.pendingAck = undefined;
    if (!requestId) return;
    await this.lanes.settled();
    await this.ack(requestId).catch((err) => this.log.warn({ err }, 'scale ack failed'));
  }

  private trackIdle(): void {
    if (this.pool.busyCount < this.pool.size) this.idleSince ??= Date.now();
    else this.idleSince = undefined;
  }

  private async autoscaleTick(): Promise<void> {
    this.trackIdle();
    const s = this.setting;
    if (!s.enabled) return;
    try {
      const counts = await this.queue.getJobCounts('waiting', 'prioritized');
      const change = decideAutoscale({
        now: Date.now(),
        size: this.pool.size,
        busy: this.pool.busyCount,
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        cores: this.options.cores,
        min: s.min,
        max: Math.min(s.max, this.options.maxSize),
        idleSince: this.idleSince,
        lastChangeAt: this.lastChangeAt,
        idleMs: this.options.idleMs,
        cooldownMs: this.options.cooldownMs,
      });
      // Switched off while the queue was read: the size kept is the one the pool has now.
      if (!change || !this.setting.enabled) return;
      const decision: AutoscaleDecision = {
        at: Date.now(),
        from: this.pool.size,
        to: change.size,
        reason: change.reason,
      };
      this.recent.push(decision);
      if (this.recent.length > RECENT_DECISIONS) this.recent.shift();
      this.log.info({ autoscale: decision }, 'autoscale decision');
      this.lastChangeAt = Date.now();
      await this.apply(change.size);
    } catch (err) {
      this.log.warn({ err }, 'autoscale tick failed');
    }
  }

  private clamp(size: number): number {
    return Math.max(1, Math.min(this.options.maxSize, Math.floor(size)));
  }
}

/** A stored size from before autoscaling was switched off (or none): not to be applied. */
function olderThan(stored: DesiredSize | undefined, off: AutoscaleOff | undefined): boolean {
  return off !== undefined && (stored === undefined || stored.at < off.at);
}
