import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../src/config/index.js';
import { JobEventLog } from '../src/progress/index.js';
import {
  CONVERSION_QUEUE,
  type ConversionJobData,
  type ConversionResult,
  queueKeys,
} from '../src/queue/index.js';
import { bullConnection, connectRedis } from '../src/redis/index.js';
import { ensureWorkspace, fileIn, outputPathFor, workspaceFor } from '../src/workspace/index.js';
import { allowedCores, WorkerPool } from './pool/index.js';
import { type ConvertTask, TaskControl } from './tasks/task-types.js';

const PROGRESS_INTERVAL_MS = 500;
const HEARTBEAT_MS = 2000;

export interface WorkerProcessHandle {
  id: string;
  pool: WorkerPool;
  close(): Promise<void>;
}

/**
 * One worker process: a BullMQ Worker whose processor only hands jobs to the thread pool, so
 * this event loop stays free to renew locks. Concurrency equals the pool size.
 */
export async function startWorkerProcess(
  config: Config,
  redisUrl: string,
  logger: Logger,
): Promise<WorkerProcessHandle> {
  const log = logger.child({ workerId: config.workerId });
  const keys = queueKeys(config.redisPrefix);
  const redis: Redis = connectRedis(redisUrl, `vcfarm-worker-${config.workerId}`);
  const subscriber: Redis = connectRedis(redisUrl, `vcfarm-worker-sub-${config.workerId}`);
  const events = new JobEventLog(redis, config.redisPrefix);
  const cores = allowedCores();
  const pool = new WorkerPool({
    filename: fileURLToPath(new URL('./tasks/pool-thread.js', import.meta.url)),
    size: config.poolSize > 0 ? config.poolSize : cores.length,
    cores,
    pin: config.pinThreads,
    logger: log,
  });
  await pool.start();

  const running = new Map<string, TaskControl>();
  await subscriber.subscribe(keys.cancelChannel);
  subscriber.on('message', (_channel: string, jobId: string) => {
    const control = running.get(jobId);
    if (control) {
      log.info({ jobId }, 'cancel requested');
      control.cancel();
    }
  });

  const processor = async (job: Job<ConversionJobData, ConversionResult>): Promise<ConversionResult> => {
    const jobId = String(job.id);
    const jlog = log.child({ jobId, requestId: job.data.requestId });
    if (await redis.exists(keys.cancelMarker(jobId)))
      throw new UnrecoverableError('VC_ERR_CANCELLED: cancelled by the user');
    const { data } = job;
    const ws = await ensureWorkspace(workspaceFor(config.dataDir, data.userId));
    const control = new TaskControl();
    running.set(jobId, control);
    const task: ConvertTask = {
      kind: 'convert',
      jobId,
      attempt: job.attemptsStarted,
      inputPath: fileIn(ws.uploads, data.uploadId),
      demuxer: data.demuxer,
      outputPath: outputPathFor(config.dataDir, data.userId, jobId, data.outputFormat),
      outputFormat: data.outputFormat,
      pitchSemitones: data.pitchSemitones,
      durationSec: data.durationSec,
      maxDurationSec: config.maxDurationSec,
      control: control.buffer,
    };
    let watching = true;
    // Publishes at each stage change and each 5% (the thread notifies), and at least every 500 ms.
    const watchProgress = async () => {
      let last = { progress: -1, stage: '' };
      while (watching) {
        const seen = control.changes;
        const now = { progress: control.progress, stage: control.stage };
        if (now.progress !== last.progress || now.stage !== last.stage) {
          last = now;
          job.updateProgress(now).catch((err) => jlog.warn({ err }, 'progress update failed'));
          events.publish(data.userId, { type: 'progress', jobId, ...now }).catch(() => {});
        }
        await control.waitForChange(seen, PROGRESS_INTERVAL_MS);
      }
    };
    const watcher = watchProgress();
    jlog.info({ attempt: job.attemptsStarted }, 'conversion started');
    try {
      const outcome = await pool.run(task);
      if (outcome.status === 'cancelled')
        throw new UnrecoverableError('VC_ERR_CANCELLED: cancelled by the user');
      if (outcome.status === 'failed') {
        const reason = `${outcome.code}: ${outcome.message}`;
        throw outcome.retryable ? new Error(reason) : new UnrecoverableError(reason);
      }
      const result: ConversionResult = {
        outputFormat: data.outputFormat,
        bytes: outcome.bytes,
        durationSec: outcome.durationSec,
        processingMs: outcome.processingMs,
        realTimeFactor: outcome.durationSec / Math.max(0.001, outcome.processingMs / 1000),
      };
      jlog.info({ ...result }, 'conversion completed');
      return result;
    } finally {
      watching = false;
      control.wake();
      await watcher;
      running.delete(jobId);
    }
  };

  const worker = new Worker<ConversionJobData, ConversionResult>(CONVERSION_QUEUE, processor, {
    connection: bullConnection(redisUrl),
    prefix: config.redisPrefix,
    concurrency: pool.size,
    lockDuration: config.jobLockMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: 2,
    autorun: false,
  });
  worker.on('completed', (job, result) => {
    events
      .publish(job.data.userId, {
        type: 'completed',
        jobId: String(job.id),
        resultUrl: `/api/jobs/${job.id}/result`,
        realTimeFactor: result.realTimeFactor,
      })
      .catch((err) => log.warn({ err }, 'event publish failed'));
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const jobId = String(job.id);
    log.warn({ jobId, err: err.message }, 'conversion attempt failed');
    void (async () => {
      if ((await job.getState()) !== 'failed') return; // will be retried
      const m = /^(VC_ERR_[A-Z_]+): ?(.*)$/s.exec(err.message);
      const code = m?.[1] ?? 'VC_ERR_INTERNAL';
      if (code === 'VC_ERR_CANCELLED') await events.publish(job.data.userId, { type: 'cancelled', jobId });
      else
        await events.publish(job.data.userId, {
          type: 'failed',
          jobId,
          error: { code, message: m?.[2] ?? err.message },
        });
    })().catch((e) => log.warn({ err: e }, 'event publish failed'));
  });
  worker.on('error', (err) => log.error({ err }, 'worker error'));
  void worker.run();

  const heartbeat = async () => {
    const stats = {
      id: config.workerId,
      host: os.hostname(),
      pid: process.pid,
      size: pool.size,
      busy: pool.busyCount,
      threads: pool.threads(),
      updatedAt: Date.now(),
    };
    await redis.set(
      `${config.redisPrefix}:worker:${config.workerId}`,
      JSON.stringify(stats),
      'PX',
      HEARTBEAT_MS * 3,
    );
  };
  await heartbeat();
  const beat = setInterval(() => void heartbeat().catch(() => {}), HEARTBEAT_MS);
  log.info({ size: pool.size, cores }, 'worker process ready');

  return {
    id: config.workerId,
    pool,
    async close() {
      clearInterval(beat);
      // Stops taking jobs and waits for the running ones to finish.
      await worker.close();
      await pool.close();
      await redis.del(`${config.redisPrefix}:worker:${config.workerId}`).catch(() => {});
      subscriber.disconnect();
      await redis.quit();
      log.info('worker process stopped');
    },
  };
}
