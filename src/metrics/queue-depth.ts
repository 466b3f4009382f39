import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { withDeadline } from '../lifecycle/core.js';
import type { RedisClient } from '../redis/core.js';
import { REDIS_QUIT_DEADLINE_MS, redisScript } from '../redis/core.js';
import { type QueueStatus, queueStatus } from '../scaling/core.js';

/** How often the lease is taken or renewed; it lasts three times as long. */
const LEASE_MS = 5000;
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'cancelled'] as const;

/**
 * Queue depth for Prometheus, read from BullMQ by one API instance only: the holder of a lease in
 * Redis (`<prefix>:metrics:queue-reader`). It reads at scrape time with the same `queueStatus`
 * that `/api/system/stats` uses, so the two never disagree (cancellations apart from failures in
 * both). Other instances export no queue series, so sums across instances do not double.
 *
 * The lease is a write, so it has a connection of its own (`leaseRedis`): while Redis holds writes
 * (CLIENT PAUSE WRITE in a failover, a stalled replica), a renewal waiting on the app's shared
 * connection held every read queued behind it (a GET /api/workspace answered after the pause,
 * not at once; test/integration/accounts-and-limits.test.ts).
 */
export class QueueDepthReader {
  private readonly id = randomUUID();
  private readonly key: string;
  private timer: NodeJS.Timeout | undefined;
  /** True while this instance holds the lease (read by the gauges' collect). */
  leader = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly queue: Queue,
    registry: Registry,
    private readonly leaseRedis: RedisClient,
  ) {
    this.key = `${prefix}:metrics:queue-reader`;
    registerQueueGauges(registry, async () =>
      this.leader ? queueStatus(this.queue, this.redis, this.prefix) : undefined,
    );
  }

  start(): void {
    let renewing = false;
    // One renewal at a time: while Redis is away, commands would otherwise pile up.
    const tick = () => {
      if (renewing) return;
      renewing = true;
      this.renew()
        .catch(() => {
          this.leader = false;
        })
        .finally(() => {
          renewing = false;
        });
    };
    tick();
    this.timer = setInterval(tick, LEASE_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // Released so another instance takes over at once; never holds shutdown on a Redis that is away.
    if (this.leader)
      await withDeadline(
        RELEASE(this.leaseRedis, [this.key], [this.id]).catch(() => {}),
        REDIS_QUIT_DEADLINE_MS,
      );
    this.leader = false;
  }

  /** Takes the lease when free, or extends it when held; anything else means another instance reads. */
  private async renew(): Promise<void> {
    const r = await TAKE_OR_RENEW(this.leaseRedis, [this.key], [this.id, LEASE_MS * 3]);
    this.leader = r === 1;
  }
}

const TAKE_OR_RENEW = redisScript(
  'vcfarmDepthLease',
  `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`,
);

const RELEASE = redisScript(
  'vcfarmDepthRelease',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

/** How long one read serves the gauges of a scrape (prom-client collects them concurrently). */
const SNAPSHOT_MS = 500;

/**
 * The queue gauges, filled at scrape time from `read` (undefined: this instance exports no queue
 * series). One read serves the three gauges of a scrape. Separate from the reader so the metrics
 * table can list them without Redis.
 */
export function registerQueueGauges(registry: Registry, read: () => Promise<QueueStatus | undefined>): void {
  let last: { at: number; value: Promise<QueueStatus | undefined> } | undefined;
  const snapshot = () => {
    if (!last || Date.now() - last.at > SNAPSHOT_MS) last = { at: Date.now(), value: read() };
    return last.value;
  };
  new Gauge({
    name: 'vcfarm_queue_jobs',
    help: 'Jobs in the conversion queue by state (failed excludes cancelled; completed and failed are those BullMQ still keeps). Exported by one API instance.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      if (s) for (const state of QUEUE_STATES) this.labels(state).set(s.counts[state]);
    },
  });
  new Gauge({
    name: 'vcfarm_queue_waiting_jobs',
    help: 'Waiting jobs by priority class (high, normal, low). Exported by one API instance.',
    labelNames: ['priority'] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      if (s) for (const p of ['high', 'normal', 'low']) this.labels(p).set(s.waitingByPriority[p] ?? 0);
    },
  });
  new Gauge({
    name: 'vcfarm_queue_oldest_waiting_seconds',
    help: 'Age of the oldest waiting job; 0 when none waits. Exported by one API instance.',
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      if (s) this.set(s.oldestWaitingAgeSec ?? 0);
    },
  });
}
