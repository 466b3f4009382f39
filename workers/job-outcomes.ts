import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { decodeJobFailure } from '../src/errors/index.js';
import type { JobEventLog } from '../src/progress/index.js';
import { type ConversionJobData, type ConversionResult, KEEP_FINISHED_SEC } from '../src/queue/index.js';
import { type FinishedOutcome, finishedMember, scalingKeys } from '../src/scaling/index.js';
import type { JobLanes } from './job-lanes.js';
import type { WorkerStatsCounter } from './worker-stats.js';

/** Finished-job records older than this are trimmed; stats show 1/5/15-minute windows. */
const FINISHED_WINDOW_MS = 15 * 60_000;

export interface OutcomeDeps {
  redis: Redis;
  events: JobEventLog;
  counter: WorkerStatsCounter;
  prefix: string;
  workerId: string;
  log: Logger;
}

/**
 * What a job's end tells the rest of the farm: the user's event (completed, failed, cancelled;
 * a failure that will be retried tells nothing), this worker's counters, and the finished-jobs
 * record the stats read.
 */
export function reportOutcomes(
  lanes: JobLanes<ConversionJobData, ConversionResult>,
  { redis, events, counter, prefix, workerId, log }: OutcomeDeps,
): void {
  const skeys = scalingKeys(prefix);
  const recordFinished = (jobId: string, outcome: FinishedOutcome) => {
    const multi = redis
      .multi()
      .zadd(skeys.finished, Date.now(), finishedMember(workerId, jobId, outcome))
      .zremrangebyscore(skeys.finished, '-inf', Date.now() - FINISHED_WINDOW_MS);
    // The queue keeps cancelled jobs in its failed set; this lets stats count them apart.
    if (outcome === 'cancel')
      multi
        .zadd(skeys.cancelled, Date.now(), jobId)
        .zremrangebyscore(skeys.cancelled, '-inf', Date.now() - KEEP_FINISHED_SEC * 1000);
    return multi.exec();
  };

  lanes.on('completed', (job: Job<ConversionJobData, ConversionResult>, result: ConversionResult) => {
    counter.recordDone(result.realTimeFactor);
    const jobId = String(job.id);
    Promise.all([
      recordFinished(jobId, 'ok'),
      events.publish(job.data.userId, {
        type: 'completed',
        jobId,
        resultUrl: `/api/jobs/${jobId}/result`,
        realTimeFactor: result.realTimeFactor,
      }),
    ]).catch((err) => log.warn({ err }, 'event publish failed'));
  });
  lanes.on('failed', (job: Job<ConversionJobData, ConversionResult> | undefined, err: Error) => {
    if (!job) return;
    const jobId = String(job.id);
    log.warn({ jobId, err: err.message }, 'conversion attempt failed');
    void (async () => {
      if ((await job.getState()) !== 'failed') return; // it will be retried
      const failure = decodeJobFailure(err.message) ?? {
        code: 'VC_ERR_INTERNAL',
        message: 'the job failed',
        retryable: false,
      };
      if (failure.code === 'VC_ERR_CANCELLED') {
        counter.recordCancelled();
        await recordFinished(jobId, 'cancel');
        await events.publish(job.data.userId, { type: 'cancelled', jobId });
        return;
      }
      counter.recordFailed();
      await recordFinished(jobId, 'fail');
      await events.publish(job.data.userId, {
        type: 'failed',
        jobId,
        error: { code: failure.code, message: failure.message },
      });
    })().catch((e) => log.warn({ err: e }, 'event publish failed'));
  });
}
