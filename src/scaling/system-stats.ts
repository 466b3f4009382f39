import type { Queue } from 'bullmq';
import { KEEP_FINISHED_SEC } from '../queue/keys.js';
import { type RedisClient, redisScript } from '../redis/core.js';
import { scalingKeys } from './keys.js';
import type { AutoscaleSetting, WorkerStats } from './messages.js';
import type { ScaleCoordinator } from './scale-coordinator.js';

const WINDOWS_MIN = [1, 5, 15] as const;
/** Waiting jobs inspected for the per-class breakdown; beyond this the figures are a sample. */
const WAITING_SAMPLE = 5000;

export interface QueueStatus {
  /** `failed` are jobs that failed for good; cancelled jobs (which the queue keeps among its failed) are apart. */
  counts: {
    waiting: number;
    active: number;
    delayed: number;
    completed: number;
    failed: number;
    cancelled: number;
  };
  waitingByPriority: Record<string, number>;
  oldestWaitingAgeSec: number | null;
  sampledWaiting: number;
}

export interface SystemStats {
  workers: WorkerStats[];
  totals: { workers: number; threads: number; busy: number; draining: number };
  queue: QueueStatus['counts'];
  throughput: { window: string; completed: number; failed: number; cancelled: number; perMinute: number }[];
  autoscale: AutoscaleSetting | { enabled: 'as-configured' };
}

/**
 * Jobs in the queue's failed set that were cancelled while running (queued ones are removed on
 * cancel and counted in `stats:cancelled-queued`): the worker records them in `stats:cancelled`.
 */
async function cancelledAmongFailed(
  queue: Queue,
  redis: RedisClient,
  prefix: string,
  since = 0,
): Promise<number> {
  return Number(await KEPT_AMONG_FAILED(redis, [queue.keys.failed, scalingKeys(prefix).cancelled], [since]));
}

/**
 * How many of a record's job ids (KEYS[2], scored by finish time like the failed set) are still in
 * the queue's failed set (KEYS[1]) with a finish time from ARGV[1] on. A record outlives the job
 * it names when the job is removed (`DELETE /api/jobs/:id/record`, an account's removal): counting
 * the record by its own scores subtracted jobs no longer among the failed.
 */
const KEPT_AMONG_FAILED = redisScript(
  'vcfarmKeptAmongFailed',
  `local since = tonumber(ARGV[1])
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')) do
  local finished = redis.call('ZSCORE', KEYS[1], id)
  if finished and tonumber(finished) >= since then n = n + 1 end
end
return n`,
);

/** Jobs cancelled while queued (removed from the queue, kept as tombstones) within the time jobs are kept. */
async function cancelledWhileQueued(redis: RedisClient, prefix: string, since: number): Promise<number> {
  return redis.zcount(scalingKeys(prefix).cancelledQueued, since, '+inf');
}

export async function queueStatus(queue: Queue, redis: RedisClient, prefix: string): Promise<QueueStatus> {
  const [c, cancelledRunning, cancelledQueued] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'),
    cancelledAmongFailed(queue, redis, prefix),
    cancelledWhileQueued(redis, prefix, Date.now() - KEEP_FINISHED_SEC * 1000),
  ]);
  const waitingJobs = await queue.getJobs(['waiting', 'prioritized'], 0, WAITING_SAMPLE - 1);
  const byPriority: Record<string, number> = {};
  let oldest: number | undefined;
  for (const job of waitingJobs) {
    if (!job) continue;
    const cls = String((job.data as { priority?: string }).priority ?? 'normal');
    byPriority[cls] = (byPriority[cls] ?? 0) + 1;
    oldest = oldest === undefined ? job.timestamp : Math.min(oldest, job.timestamp);
  }
  return {
    counts: {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      completed: c.completed ?? 0,
      failed: Math.max(0, (c.failed ?? 0) - cancelledRunning),
      cancelled: cancelledRunning + cancelledQueued,
    },
    waitingByPriority: byPriority,
    oldestWaitingAgeSec: oldest === undefined ? null : Math.max(0, (Date.now() - oldest) / 1000),
    sampledWaiting: waitingJobs.length,
  };
}

export async function systemStats(
  redis: RedisClient,
  prefix: string,
  queue: Queue,
  coordinator: ScaleCoordinator,
): Promise<SystemStats> {
  const keys = scalingKeys(prefix);
  const now = Date.now();
  const [workers, status, autoscaleRaw] = await Promise.all([
    coordinator.liveWorkers(),
    queueStatus(queue, redis, prefix),
    redis.get(keys.autoscale),
  ]);
  // BullMQ's own finished sets, scored by finish time (kept KEEP_FINISHED_SEC), counted per window;
  // cancellations of running jobs, which BullMQ files among the failed, are taken out by the
  // worker's record of them (those still kept); those of queued jobs (removed from the queue by the API) are added.
  const throughput = await Promise.all(
    WINDOWS_MIN.map(async (min) => {
      const since = now - min * 60_000;
      const [completed, failedAll, cancelledRunning, cancelledQueued] = await Promise.all([
        redis.zcount(queue.keys.completed, since, '+inf'),
        redis.zcount(queue.keys.failed, since, '+inf'),
        cancelledAmongFailed(queue, redis, prefix, since),
        cancelledWhileQueued(redis, prefix, since),
      ]);
      const failed = Math.max(0, failedAll - cancelledRunning);
      const cancelled = cancelledRunning + cancelledQueued;
      return { window: `${min}m`, completed, failed, cancelled, perMinute: completed / min };
    }),
  );
  return {
    workers,
    totals: {
      workers: workers.length,
      threads: workers.reduce((n, w) => n + w.size, 0),
      busy: workers.reduce((n, w) => n + w.busy, 0),
      draining: workers.reduce((n, w) => n + w.draining, 0),
    },
    queue: status.counts,
    throughput,
    autoscale: autoscaleRaw ? (JSON.parse(autoscaleRaw) as AutoscaleSetting) : { enabled: 'as-configured' },
  };
}
