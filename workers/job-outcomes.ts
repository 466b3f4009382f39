import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { decodeJobFailure } from '../src/errors/index.js';
import type { JobOutcomeLabel, WorkerMetrics } from '../src/metrics/core.js';
import type { JobEventLog } from '../src/progress/core.js';
import {
  type ConversionJobData,
  type ConversionResult,
  hasOwnWebhook,
  KEEP_FINISHED_SEC,
} from '../src/queue/core.js';
import type { RedisClient } from '../src/redis/core.js';
import { scalingKeys } from '../src/scaling/core.js';
import { jobKind, jobLogFields, jobModel } from './job-labels.js';
import type { JobLanes } from './job-lanes.js';

export interface OutcomeDeps {
  redis: RedisClient;
  events: JobEventLog;
  metrics: WorkerMetrics;
  prefix: string;
  log: Logger;
}

/**
 * What a job's end tells the rest of the farm: the user's event (completed, failed, cancelled;
 * a failure that will be retried tells nothing), this worker's metrics, and the cancelled-jobs
 * record the stats read (the queue keeps cancelled jobs in its failed set).
 */
export function reportOutcomes(
  lanes: JobLanes<ConversionJobData, ConversionResult>,
  { redis, events, metrics, prefix, log }: OutcomeDeps,
): void {
  const skeys = scalingKeys(prefix);
  /** Scored like the failed set (by the finish time), so stats count cancellations apart in totals and windows. */
  const recordCancelled = (job: Job<ConversionJobData>) =>
    redis
      .multi()
      .zadd(skeys.cancelled, job.finishedOn ?? Date.now(), String(job.id))
      .zremrangebyscore(skeys.cancelled, '-inf', Date.now() - KEEP_FINISHED_SEC * 1000)
      .exec();

  /** Counts a job that ended (not an attempt that will be retried) into the metrics. */
  const recordEnded = (job: Job<ConversionJobData>, outcome: JobOutcomeLabel) => {
    const kind = jobKind(job.data);
    metrics.jobs.labels(kind, jobModel(job.data), outcome).inc();
    metrics.duration.labels(kind, outcome).observe(Math.max(0, Date.now() - job.timestamp) / 1000);
  };

  lanes.on('completed', (job: Job<ConversionJobData, ConversionResult>, result: ConversionResult) => {
    recordEnded(job, 'completed');
    const kind = jobKind(job.data);
    metrics.processing.labels(kind).observe(result.processingMs / 1000);
    metrics.realTimeFactor.labels(kind).observe(result.realTimeFactor);
    const jobId = String(job.id);
    events
      .publish(
        job.data.userId,
        {
          type: 'completed',
          jobId,
          resultUrl: `/api/jobs/${jobId}/result`,
          realTimeFactor: result.realTimeFactor,
          // The view's times (BullMQ's), so the live card and a reloaded one say the same.
          ...(job.processedOn ? { startedAt: job.processedOn } : {}),
          ...(job.finishedOn ? { finishedAt: job.finishedOn } : {}),
        },
        { jobWebhook: hasOwnWebhook(job.data) },
      )
      .catch((err) => log.warn({ err }, 'event publish failed'));
  });
  lanes.on('failed', (job: Job<ConversionJobData, ConversionResult> | undefined, err: Error) => {
    if (!job) return;
    const jobId = String(job.id);
    const decoded = decodeJobFailure(err.message);
    // A cancel is asked for, not a fault: info, so that warnings (and alerts on them) mean failures.
    if (decoded?.code === 'VC_ERR_CANCELLED')
      log.info({ ...jobLogFields(job), reason: decoded.message }, 'conversion cancelled');
    else log.warn({ ...jobLogFields(job), err: err.message }, 'conversion attempt failed');
    void (async () => {
      if ((await job.getState()) !== 'failed') return; // it will be retried
      const failure = decoded ?? {
        code: 'VC_ERR_INTERNAL',
        message: 'the job failed',
        retryable: false,
      };
      if (failure.code === 'VC_ERR_CANCELLED') {
        recordEnded(job, 'cancelled');
        await recordCancelled(job);
        await events.publish(
          job.data.userId,
          { type: 'cancelled', jobId },
          { jobWebhook: hasOwnWebhook(job.data) },
        );
        return;
      }
      recordEnded(job, 'failed');
      await events.publish(
        job.data.userId,
        { type: 'failed', jobId, error: { code: failure.code, message: failure.message } },
        { jobWebhook: hasOwnWebhook(job.data) },
      );
    })().catch((e) => log.warn({ err: e }, 'event publish failed'));
  });
}
