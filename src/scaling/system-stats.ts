import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { scalingKeys } from './keys.js';
import type { AutoscaleSetting, WorkerStats } from './messages.js';
import type { ScaleCoordinator } from './scale-coordinator.js';

const WINDOWS_MIN = [1, 5, 15] as const;
/** Waiting jobs inspected for the per-class breakdown; beyond this the figures are a sample. */
const WAITING_SAMPLE = 5000;

export interface QueueStatus {
  counts: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  waitingByPriority: Record<string, number>;
  oldestWaitingAgeSec: number | null;
  sampledWaiting: number;
}

export interface SystemStats {
  workers: WorkerStats[];
  totals: { workers: number; threads: number; busy: number; draining: number };
  queue: QueueStatus['counts'];
  throughput: { window: string; completed: number; failed: number; perMinute: number }[];
  autoscale: AutoscaleSetting | { enabled: 'as-configured' };
}

export async function queueStatus(queue: Queue): Promise<QueueStatus> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
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
      failed: c.failed ?? 0,
    },
    waitingByPriority: byPriority,
    oldestWaitingAgeSec: oldest === undefined ? null : Math.max(0, (Date.now() - oldest) / 1000),
    sampledWaiting: waitingJobs.length,
  };
}

export async function systemStats(
  redis: Redis,
  prefix: string,
  queue: Queue,
  coordinator: ScaleCoordinator,
): Promise<SystemStats> {
  const keys = scalingKeys(prefix);
  const now = Date.now();
  const [workers, status, autoscaleRaw] = await Promise.all([
    coordinator.liveWorkers(),
    queueStatus(queue),
    redis.get(keys.autoscale),
  ]);
  const throughput = await Promise.all(
    WINDOWS_MIN.map(async (min) => {
      const members = await redis.zrangebyscore(keys.finished, now - min * 60_000, '+inf');
      const failed = members.filter((m) => m.endsWith(':fail')).length;
      const completed = members.length - failed;
      return { window: `${min}m`, completed, failed, perMinute: completed / min };
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
