import os from 'node:os';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  type AutoscaleDecision,
  type AutoscaleSetting,
  type DesiredSize,
  decideAutoscale,
  type ScaleAck,
  type ScaleCommand,
  scalingKeys,
} from '../src/scaling/index.js';
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
 * Keeps one worker process at the size the operator (or the autoscaler) wants: reads the
 * stored size at start, applies resize commands from pub/sub, acknowledges them, and runs the
 * autoscaling loop when enabled. It moves the job lanes with the pool so the queue never hands
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
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly pool: WorkerPool,
    private readonly lanes: Pick<JobLanes<unknown, unknown>, 'resize' | 'settled'>,
    private readonly queue: Queue,
    private readonly log: Logger,
    private readonly options: ScalingAgentOptions,
  ) {
    this.keys = scalingKeys(options.prefix);
    this.setting = options.autoscale ? { enabled: true, ...options.autoscale } : { enabled: false };
  }

  /** The size to start with: this worker's stored size, else everyone's, else `fallback`. */
  async initialSize(fallback: number): Promise<number> {
    const own = await this.redis.hget(this.keys.desiredPerWorker, this.options.workerId);
    const all = await this.redis.get(this.keys.desired);
    const stored = own ?? all;
    const storedAutoscale = await this.redis.get(this.keys.autoscale);
    if (storedAutoscale) {
      this.setting = JSON.parse(storedAutoscale) as AutoscaleSetting;
      this.pinnedByManualScale = !this.setting.enabled;
    }
    // Autoscaling starts small, like Celery's --autoscale, and grows when jobs wait.
    if (this.setting.enabled) return this.setting.min;
    return stored ? this.clamp((JSON.parse(stored) as DesiredSize).size) : this.clamp(fallback);
  }

  async start(): Promise<void> {
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
    this.timer = setInterval(() => void this.autoscaleTick(), this.options.intervalMs);
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
      return;
    }
    if (cmd.workerId && cmd.workerId !== this.options.workerId) return;
    if (!cmd.workerId) {
      this.setting = { enabled: false };
      this.pinnedByManualScale = true;
    }
    this.log.info({ requestId: cmd.requestId, size: cmd.size }, 'scale requested');
    void this.apply(cmd.size, cmd.requestId);
  }

  /** Resizes in order: grow the pool before opening lanes, close lanes before shrinking the pool. */
  private apply(size: number, requestId?: string): Promise<unknown> {
    const target = this.clamp(size);
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
        this.pendingPrevious = previous;
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
      if (!change) return;
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
