import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { NotFoundError } from '../errors/index.js';
import type { OutputFormat } from '../media/index.js';
import type { JobEventLog } from '../progress/index.js';
import { bullConnection } from '../redis/index.js';
import { outputPathFor, type Upload } from '../workspace/index.js';
import {
  BULL_PRIORITY,
  CONVERSION_QUEUE,
  type ConversionJobData,
  type ConversionJobView,
  type ConversionResult,
  type JobPriority,
} from './conversion-job.js';
import { toJobView } from './job-view.js';
import { KEEP_FINISHED_SEC, queueKeys } from './keys.js';

export interface ConversionRequest {
  pitchSemitones: number;
  outputFormat: OutputFormat;
  priority: JobPriority;
  requestId: string;
}

export interface ConversionQueueOptions {
  redisUrl: string;
  prefix: string;
  dataDir: string;
  attempts: number;
}

type ConversionBullJob = Job<ConversionJobData, ConversionResult>;

/**
 * The producer side of the conversion queue, as the API uses it: enqueue, look up, list and
 * cancel a user's jobs. Every lookup checks ownership; another user's job is "not found".
 */
export class ConversionQueue {
  readonly queue: Queue<ConversionJobData, ConversionResult>;
  private readonly keys: ReturnType<typeof queueKeys>;

  constructor(
    private readonly redis: Redis,
    private readonly events: JobEventLog,
    private readonly options: ConversionQueueOptions,
  ) {
    this.keys = queueKeys(options.prefix);
    this.queue = new Queue(CONVERSION_QUEUE, {
      connection: bullConnection(options.redisUrl),
      prefix: options.prefix,
    });
  }

  async enqueue(userId: string, upload: Upload, req: ConversionRequest): Promise<ConversionJobView> {
    const id = randomUUID();
    const createdAt = Date.now();
    const data: ConversionJobData = {
      kind: 'convert',
      userId,
      uploadId: upload.id,
      filename: upload.filename,
      demuxer: upload.demuxer,
      durationSec: upload.durationSec,
      pitchSemitones: req.pitchSemitones,
      outputFormat: req.outputFormat,
      priority: req.priority,
      requestId: req.requestId,
      createdAt,
    };
    await this.redis
      .multi()
      .zadd(this.keys.userJobs(userId), createdAt, id)
      .expire(this.keys.userJobs(userId), KEEP_FINISHED_SEC)
      .exec();
    const job = await this.queue.add('convert', data, {
      jobId: id,
      priority: BULL_PRIORITY[req.priority],
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: KEEP_FINISHED_SEC },
      removeOnFail: { age: KEEP_FINISHED_SEC },
    });
    return toJobView(job, 'waiting');
  }

  async get(userId: string, jobId: string): Promise<ConversionJobView> {
    const job = await this.queue.getJob(jobId);
    if (job && job.data.userId === userId) return toJobView(job, await job.getState());
    const tomb = await this.redis.get(this.keys.tombstone(jobId));
    if (tomb) {
      const view = JSON.parse(tomb) as ConversionJobView & { userId: string };
      if (view.userId === userId) {
        const { userId: _owner, ...rest } = view;
        return rest;
      }
    }
    throw new NotFoundError('job');
  }

  /** The user's jobs, newest first. */
  async list(userId: string, limit = 50): Promise<ConversionJobView[]> {
    const ids = await this.redis.zrevrange(this.keys.userJobs(userId), 0, limit - 1);
    const views = await Promise.all(ids.map((id) => this.get(userId, id).catch(() => undefined)));
    return views.filter((v): v is ConversionJobView => v !== undefined);
  }

  /** Jobs that are not finished, for WebSocket snapshots. */
  async listUnfinished(userId: string): Promise<ConversionJobView[]> {
    return (await this.list(userId)).filter((v) => v.state === 'queued' || v.state === 'active');
  }

  /**
   * Cancels a job. A queued job is removed at once; an active one is told to stop (every worker
   * process hears the pub/sub message; a worker that picks the job up later sees the marker).
   */
  async cancel(userId: string, jobId: string): Promise<ConversionJobView> {
    const job = await this.ownedJob(userId, jobId);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return toJobView(job, state);
    await this.redis.set(this.keys.cancelMarker(jobId), '1', 'EX', KEEP_FINISHED_SEC);
    if (state !== 'active') {
      try {
        await job.remove();
        const view: ConversionJobView = {
          ...toJobView(job, state),
          state: 'cancelled',
          finishedAt: Date.now(),
        };
        view.error = { code: 'VC_ERR_CANCELLED', message: 'cancelled by the user' };
        await this.redis.set(
          this.keys.tombstone(jobId),
          JSON.stringify({ ...view, userId }),
          'EX',
          KEEP_FINISHED_SEC,
        );
        await this.events.publish(userId, { type: 'cancelled', jobId });
        return view;
      } catch {
        // It became active (locked by a worker) meanwhile: fall through to stopping it.
      }
    }
    await this.redis.publish(this.keys.cancelChannel, jobId);
    return toJobView(job, await job.getState());
  }

  /** Where the finished output of the user's job lives. */
  async resultOf(
    userId: string,
    jobId: string,
  ): Promise<{ path: string; format: OutputFormat; filename: string }> {
    const job = await this.ownedJob(userId, jobId);
    if ((await job.getState()) !== 'completed') throw new NotFoundError('result');
    return {
      path: outputPathFor(this.options.dataDir, userId, jobId, job.data.outputFormat),
      format: job.data.outputFormat,
      filename: job.data.filename,
    };
  }

  async removeResult(userId: string, jobId: string): Promise<void> {
    const r = await this.resultOf(userId, jobId);
    await rm(r.path, { force: true });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  private async ownedJob(userId: string, jobId: string): Promise<ConversionBullJob> {
    const job = await this.queue.getJob(jobId);
    if (!job || job.data.userId !== userId) throw new NotFoundError('job');
    return job;
  }
}
