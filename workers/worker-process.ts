import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../src/config/index.js';
import { withDeadline } from '../src/lifecycle/core.js';
import { LogThrottle } from '../src/logging/index.js';
import { WorkerMetrics } from '../src/metrics/core.js';
import { DEFAULT_MODEL } from '../src/models/core.js';
import { JobEventLog } from '../src/progress/core.js';
import {
  CONVERSION_QUEUE,
  type ConversionJobData,
  type ConversionResult,
  FairShare,
  queueKeys,
  releaseSlotsWhenRecorded,
  withFairShare,
} from '../src/queue/core.js';
import type { RedisClient } from '../src/redis/core.js';
import {
  bullConnection,
  closeRedis,
  connectionErrorLog,
  connectRedis,
  REDIS_QUIT_DEADLINE_MS,
} from '../src/redis/core.js';
import { scalingKeys } from '../src/scaling/core.js';
import { ConversionProcessor } from './conversion-processor.js';
import { startHeartbeat } from './heartbeat.js';
import { jobLogFields } from './job-labels.js';
import { JobLanes } from './job-lanes.js';
import { reportOutcomes } from './job-outcomes.js';
import { startMetricsServer } from './metrics-server.js';
import { allowedCores, WorkerPool } from './pool/index.js';
import { ScalingAgent } from './scaling-agent.js';
import { WorkerStatsCounter } from './worker-stats.js';
import { WriteFaultGuard } from './write-fault-guard.js';

export interface WorkerProcessHandle {
  id: string;
  pool: WorkerPool;
  /** Where this process serves /metrics and /health/* (WORKER_METRICS_PORT), if it does. */
  metricsUrl: string | undefined;
  /**
   * Stops taking jobs, lets running ones finish for up to `jobGraceMs` (default 50 s; a job still
   * running then is stopped and retried, VC_ERR_WORKER_STOPPED), then closes every connection,
   * each within a deadline.
   */
  close(options?: { jobGraceMs?: number }): Promise<void>;
}

const JOB_GRACE_MS = 50_000;

/**
 * One worker process: job lanes (one BullMQ Worker per pool thread) whose processor only hands
 * jobs to the thread pool, so this event loop stays free to renew locks. The scaling agent
 * resizes the pool and the lanes together at run time.
 */
export async function startWorkerProcess(
  config: Config,
  redisUrl: string,
  logger: Logger,
): Promise<WorkerProcessHandle> {
  const log = logger.child({ workerId: config.workerId });
  const qkeys = queueKeys(config.redisPrefix);
  const skeys = scalingKeys(config.redisPrefix);
  const redis: RedisClient = connectRedis(redisUrl, `vcfarm-worker-${config.workerId}`, log);
  const cancelSubscriber: RedisClient = connectRedis(
    redisUrl,
    `vcfarm-worker-cancel-${config.workerId}`,
    log,
  );
  const scaleSubscriber: RedisClient = connectRedis(redisUrl, `vcfarm-worker-scale-${config.workerId}`, log);
  const events = new JobEventLog(redis, config.redisPrefix);
  const queueConnection = bullConnection(redisUrl);
  const queue = new Queue(CONVERSION_QUEUE, {
    connection: queueConnection.connection,
    prefix: config.redisPrefix,
  });
  queue.on('error', connectionErrorLog(log)(`vcfarm-worker-queue-${config.workerId}`));
  const cores = allowedCores();
  const counter = new WorkerStatsCounter();

  const pool = new WorkerPool({
    filename: fileURLToPath(new URL('./tasks/pool-thread.js', import.meta.url)),
    size: 1,
    cores,
    pin: config.pinThreads,
    preloadModelDir: path.join(config.modelsDir, DEFAULT_MODEL),
    logger: log,
  });
  const metrics = new WorkerMetrics(pool);
  metrics.seedModel(DEFAULT_MODEL);
  const processor = new ConversionProcessor(config, redis, events, pool, log, metrics);
  const fairShare = new FairShare(redis, config.redisPrefix);
  const lanes = new JobLanes<ConversionJobData, ConversionResult>({
    queueName: CONVERSION_QUEUE,
    redisUrl,
    prefix: config.redisPrefix,
    lockDurationMs: config.jobLockMs,
    stalledIntervalMs: config.stalledIntervalMs,
    // Fair share: a job over its user's active cap goes back to the queue (src/queue/fair-share.ts).
    processor: withFairShare(fairShare, processor.process),
    logger: log,
  });
  releaseSlotsWhenRecorded(fairShare, lanes, (err) => log.warn({ err }, 'freeing an active-cap slot failed'));
  const agent = new ScalingAgent(redis, scaleSubscriber, pool, lanes, queue, log, {
    workerId: config.workerId,
    prefix: config.redisPrefix,
    cores: cores.length,
    maxSize: config.maxWorkersPerHost,
    autoscale: config.autoscale,
    idleMs: config.autoscaleIdleMs,
    cooldownMs: config.autoscaleCooldownMs,
    intervalMs: config.autoscaleIntervalMs,
  });

  await cancelSubscriber.subscribe(qkeys.cancelChannel);
  cancelSubscriber.on('message', (channel: string, jobId: string) => {
    const job = processor.runningJob(jobId);
    if (channel === qkeys.cancelChannel && job && processor.cancel(jobId))
      log.info(jobLogFields(job), 'cancel requested');
  });

  reportOutcomes(lanes, { redis, events, metrics, prefix: config.redisPrefix, log });
  // Redis refusing writes pauses the lanes until a test write passes; other errors are logged at
  // most once per 5 s each, with the count of repeats held back.
  const guard = new WriteFaultGuard(redis, lanes, log, {
    probeKey: `${config.redisPrefix}:health:probe:${config.workerId}`,
  });
  const throttle = new LogThrottle();
  lanes.on('error', (err: Error) => {
    if (guard.onError(err)) return;
    const repeats = throttle.admit(err.message);
    if (repeats !== undefined) log.error({ err, repeats }, 'worker error');
  });
  // Lanes open only now, with every listener in place: one per thread, at the stored size (a
  // restarted worker keeps what the operator asked for), else POOL_SIZE, else one per core.
  await agent.start(config.poolSize > 0 ? config.poolSize : cores.length);

  const stopHeartbeat = await startHeartbeat({
    redis,
    pool,
    counter,
    metrics,
    agent,
    prefix: config.redisPrefix,
    workerId: config.workerId,
    log,
  });
  let closing = false;
  const metricsServer =
    config.workerMetricsPort === undefined
      ? undefined
      : await startMetricsServer(
          metrics.registry,
          {
            notReadyReason: () =>
              closing
                ? 'stopping'
                : guard.paused
                  ? 'redis refuses writes: job lanes paused'
                  : pool.size === 0
                    ? 'no pool thread'
                    : undefined,
          },
          config.workerMetricsHost,
          config.workerMetricsPort,
        );
  log.info({ size: pool.size, cores, metricsUrl: metricsServer?.url }, 'worker process ready');

  return {
    id: config.workerId,
    pool,
    metricsUrl: metricsServer?.url,
    async close(options = {}) {
      closing = true;
      stopHeartbeat();
      agent.stop();
      guard.stop();
      const deadline = config.closeTimeoutMs;
      // Stops taking jobs and waits for the running ones to finish. Past the grace they are
      // stopped (their ffmpeg killed, partial files removed) and fail as retryable, so the pool's
      // threads come free and the process ends by itself; left running, they held pool.close()
      // until the command's deadline exited the process with their children and files behind.
      const lanesClosed = lanes.close();
      if ((await withDeadline(lanesClosed, options.jobGraceMs ?? JOB_GRACE_MS)) === 'timeout') {
        const jobs = processor.stopAll();
        log.warn({ jobs }, 'running jobs did not finish in time: stopped, to be retried');
        await withDeadline(lanesClosed, deadline);
      }
      await withDeadline(pool.close(), deadline);
      await withDeadline(
        redis.multi().del(skeys.worker(config.workerId)).srem(skeys.workers, config.workerId).exec(),
        REDIS_QUIT_DEADLINE_MS,
      );
      cancelSubscriber.disconnect();
      scaleSubscriber.disconnect();
      await withDeadline(
        queue.close(),
        REDIS_QUIT_DEADLINE_MS,
        () => void queue.disconnect().catch(() => {}),
      );
      queueConnection.release();
      await closeRedis(redis);
      await metricsServer?.close();
      log.info('worker process stopped');
    },
  };
}
