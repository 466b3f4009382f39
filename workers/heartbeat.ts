import os from 'node:os';
import type { Logger } from 'pino';
import { LogThrottle } from '../src/logging/index.js';
import { jobTotals, type WorkerMetrics } from '../src/metrics/core.js';
import type { RedisClient } from '../src/redis/core.js';
import { scalingKeys, type WorkerStats } from '../src/scaling/core.js';
import type { WorkerPool } from './pool/index.js';
import type { ScalingAgent } from './scaling-agent.js';
import type { WorkerStatsCounter } from './worker-stats.js';

const HEARTBEAT_MS = 1000;

export interface HeartbeatDeps {
  redis: RedisClient;
  pool: WorkerPool;
  counter: WorkerStatsCounter;
  metrics: WorkerMetrics;
  agent: ScalingAgent;
  prefix: string;
  workerId: string;
  log: Logger;
}

/**
 * Writes this worker's stats to Redis now and every second (the key expires after four missed
 * beats, so a vanished worker drops out of the stats). Returns the function that stops it.
 */
export async function startHeartbeat({
  redis,
  pool,
  counter,
  metrics,
  agent,
  prefix,
  workerId,
  log,
}: HeartbeatDeps): Promise<() => void> {
  const skeys = scalingKeys(prefix);
  const heartbeat = async () => {
    // The same counters Prometheus scrapes: the heartbeat and /metrics cannot disagree.
    const totals = await jobTotals(metrics);
    const stats: WorkerStats = {
      id: workerId,
      host: os.hostname(),
      pid: process.pid,
      size: pool.size,
      threadCount: pool.threadCount,
      busy: pool.busyCount,
      draining: pool.drainingCount,
      threads: pool.threads().map((t) => ({
        index: t.index,
        core: t.core,
        tid: t.tid,
        busy: t.busyWith !== null,
        retiring: t.retiring,
        sharedCore: t.sharedCore,
      })),
      jobsDone: totals.completed,
      jobsFailed: totals.failed,
      jobsCancelled: totals.cancelled,
      meanRealTimeFactor: totals.meanRealTimeFactor,
      cpuPercent: counter.cpuPercent(),
      rssBytes: process.memoryUsage.rss(),
      uptimeSec: counter.uptimeSec,
      autoscale: agent.autoscaleState(),
      updatedAt: Date.now(),
    };
    await redis
      .multi()
      .set(skeys.worker(workerId), JSON.stringify(stats), 'PX', HEARTBEAT_MS * 4)
      .sadd(skeys.workers, workerId)
      .exec();
  };
  await heartbeat();
  // A missed beat lets this worker drop out of the stats once its key expires: say so.
  const beatErrors = new LogThrottle();
  const beat = setInterval(
    () =>
      void heartbeat().catch((err: Error) => {
        const repeats = beatErrors.admit(err.message);
        if (repeats !== undefined) log.warn({ err, repeats }, 'worker heartbeat failed');
      }),
    HEARTBEAT_MS,
  );
  return () => clearInterval(beat);
}
