import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../errors/index.js';
import type { RedisClient } from '../redis/core.js';
import { scalingKeys } from './keys.js';
import type {
  AutoscaleOff,
  AutoscaleOn,
  AutoscaleSetting,
  DesiredSize,
  ScaleAck,
  ScaleCommand,
  WorkerStats,
} from './messages.js';

const ACK_TTL_SEC = 3600;

export interface ScaleOutcome {
  requestId: string;
  /** Pool size of each targeted worker before the request, as the workers reported it. */
  previous: Record<string, number>;
  /** null: an autoscale setting (off: each worker keeps the size it had; on: sizes within the bounds). */
  requested: number | null;
  workers: { id: string; host: string; pid: number; size: number; applied: boolean }[];
  /** At least one worker is targeted and every targeted worker has applied the size (no thread still draining). */
  complete: boolean;
  /** No live worker to apply it yet: the size is stored and a worker that starts comes up at it. */
  noLiveWorker: boolean;
}

/**
 * The API's side of scaling: stores the desired pool size in Redis (so workers that start
 * later come up at it), tells every live worker at once over pub/sub, and collects their
 * acknowledgements.
 */
export class ScaleCoordinator {
  private readonly keys: ReturnType<typeof scalingKeys>;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = scalingKeys(prefix);
  }

  /** Live worker processes, from their heartbeats; ids without a live heartbeat are forgotten. */
  async liveWorkers(): Promise<WorkerStats[]> {
    const ids = await this.redis.smembers(this.keys.workers);
    if (ids.length === 0) return [];
    const raw = await this.redis.mget(ids.map((id) => this.keys.worker(id)));
    const gone = ids.filter((_, i) => raw[i] === null);
    if (gone.length > 0) await this.redis.srem(this.keys.workers, ...gone);
    return raw
      .filter((r): r is string => r !== null)
      .map((r) => JSON.parse(r) as WorkerStats)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async resize(size: number, workerId: string | undefined, waitMs: number): Promise<ScaleOutcome> {
    const workers = await this.liveWorkers();
    const targets = workerId ? workers.filter((w) => w.id === workerId) : workers;
    if (workerId && targets.length === 0) throw new NotFoundError(`worker "${workerId}"`);
    const requestId = randomUUID();
    const desired: DesiredSize = { size, requestId, at: Date.now() };
    const multi = this.redis.multi();
    if (workerId) multi.hset(this.keys.desiredPerWorker, workerId, JSON.stringify(desired));
    else
      multi
        .set(this.keys.desired, JSON.stringify(desired))
        .del(this.keys.desiredPerWorker, this.keys.autoscaleOff, this.keys.autoscaleOn);
    // A manual size pins the pool: autoscaling stays off until it is re-enabled.
    if (!workerId)
      multi.set(this.keys.autoscale, JSON.stringify({ enabled: false } satisfies AutoscaleSetting));
    multi.set(
      this.keys.request(requestId),
      JSON.stringify({ size, workerId, targets: targets.map((t) => t.id), at: desired.at }),
      'EX',
      ACK_TTL_SEC,
    );
    await multi.exec();
    const command: ScaleCommand = { type: 'resize', requestId, size, workerId };
    await this.redis.publish(this.keys.channel, JSON.stringify(command));
    // No live worker: nothing can apply it now; the size is stored and answered as such at once.
    // Before any acknowledgement the heartbeats say each target's host, pid and size, which is
    // also its size before this request.
    return this.await(requestId, targets, size, targets.length === 0 ? 0 : waitMs, true);
  }

  /**
   * Stores and sends an autoscale setting, acknowledged per worker like a resize: the outcome says
   * which workers have, within `waitMs`. Switched on, a worker acknowledges once it autoscales
   * within the bounds (its pool brought inside them); switched off, once it keeps the size it has
   * (stored as its own desired size, so no older stored size brings the pool back to it). A
   * worker that misses the message finds the request stored (level-triggered, as a resize).
   */
  async setAutoscale(
    setting: AutoscaleSetting,
    waitMs: number,
  ): Promise<{ requestId: string; autoscale: AutoscaleSetting; outcome: ScaleOutcome }> {
    const requestId = randomUUID();
    const command: ScaleCommand = { type: 'autoscale', requestId, setting };
    const targets = await this.liveWorkers();
    const request: AutoscaleOn | AutoscaleOff = { requestId, at: Date.now() };
    const multi = this.redis.multi().set(this.keys.autoscale, JSON.stringify(setting));
    if (setting.enabled)
      multi.set(this.keys.autoscaleOn, JSON.stringify(request)).del(this.keys.autoscaleOff);
    else multi.set(this.keys.autoscaleOff, JSON.stringify(request)).del(this.keys.autoscaleOn);
    await multi
      .set(
        this.keys.request(requestId),
        JSON.stringify({ size: null, targets: targets.map((t) => t.id), at: request.at }),
        'EX',
        ACK_TTL_SEC,
      )
      .exec();
    await this.redis.publish(this.keys.channel, JSON.stringify(command));
    const outcome = await this.await(requestId, targets, null, targets.length === 0 ? 0 : waitMs, true);
    return { requestId, autoscale: setting, outcome };
  }

  /**
   * The state of an earlier request (for the status URL of a 202). A request for every worker is
   * measured against the workers live now: each reconciles with the stored size, including those
   * that started after the request, and one that has died no longer counts.
   */
  async status(requestId: string): Promise<ScaleOutcome> {
    const raw = await this.redis.get(this.keys.request(requestId));
    if (!raw) throw new NotFoundError('scale request');
    const req = JSON.parse(raw) as { size: number | null; workerId?: string; targets: string[] };
    const live = await this.liveWorkers();
    const targets = req.workerId
      ? [live.find((w) => w.id === req.workerId) ?? { id: req.workerId, host: '', pid: 0, size: 0 }]
      : live;
    // Later, a heartbeat's size may already be the requested one: only an acknowledgement says the size before.
    return this.await(requestId, targets, req.size, 0, false);
  }

  /**
   * Waits up to `waitMs` for every target's acknowledgement. A target that has not acknowledged
   * yet is shown as its heartbeat last said (host, pid, size); `sizeBefore`: that size is the one it
   * had before the request (true when the heartbeats were read just before sending it).
   */
  private async await(
    requestId: string,
    targets: Pick<WorkerStats, 'id' | 'host' | 'pid' | 'size'>[],
    size: number | null,
    waitMs: number,
    sizeBefore: boolean,
  ): Promise<ScaleOutcome> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const raw = await this.redis.hgetall(this.keys.acks(requestId));
      const acks = targets.map(({ id }) => (raw[id] ? (JSON.parse(raw[id]) as ScaleAck) : undefined));
      const complete = targets.length > 0 && acks.every((a) => a?.applied === true);
      if (complete || Date.now() >= deadline) {
        const previous: Record<string, number> = {};
        targets.forEach((t, i) => {
          const a = acks[i];
          if (a) previous[t.id] = a.previous;
          else if (sizeBefore) previous[t.id] = t.size;
        });
        return {
          requestId,
          previous,
          requested: size,
          complete,
          noLiveWorker: targets.length === 0,
          workers: targets.map((t, i) => {
            const a = acks[i];
            return {
              id: t.id,
              host: a?.host ?? t.host,
              pid: a?.pid ?? t.pid,
              size: a?.size ?? t.size,
              applied: a?.applied ?? false,
            };
          }),
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
