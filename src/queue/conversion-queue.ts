import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { type Job, Queue } from 'bullmq';
import { ConflictError, JobNotFinishedError, NotFoundError } from '../errors/index.js';
import { withDeadline } from '../lifecycle/core.js';
import type { OutputFormat } from '../media/index.js';
import type { JobEventLog } from '../progress/core.js';
import type { RedisClient } from '../redis/core.js';
import { type BullConnection, bullConnection, REDIS_QUIT_DEADLINE_MS } from '../redis/core.js';
import { scalingKeys } from '../scaling/core.js';
import { outputPathFor, partialOutputPath, type Upload, UsageLedger, type Voice } from '../workspace/core.js';
import {
  BULL_PRIORITY,
  type CancelledBy,
  CONVERSION_QUEUE,
  type ConversionJobData,
  type ConversionJobView,
  type ConversionResult,
  type ConvertJobData,
  cancelMessage,
  hasOwnWebhook,
  type JobPriority,
  type JobWebhook,
  type PublicJobState,
  type ResultGone,
} from './conversion-job.js';
import { allowedPriority, FairShare, fairBase, fairPriority } from './fair-share.js';
import { publicState, toJobView } from './job-view.js';
import { KEEP_FINISHED_SEC, queueKeys } from './keys.js';
import { ResourceClaims, type Use } from './resource-claims.js';

/** A conversion as a partial read sees it (ConversionQueue.partialOf). */
export interface PartialResult {
  state: PublicJobState;
  attempt: number;
  /** The current attempt's partial file (it may not exist yet, or be gone). */
  partPath: string;
  finalPath: string;
  format: OutputFormat;
  filename: string;
}

/** The caller's plan: fair-share priority, caps and quotas. Absent: plain priorities, no caps. */
export interface JobPlan {
  priorityBase: number;
  maxJobPriority: JobPriority;
  maxActiveJobs: number;
  maxQueuedJobs: number;
  maxDurationSec: number;
  /** Workspace byte quota; the worker stops an output that passes what is left of it. */
  maxStorageBytes?: number;
}

interface RequestBase {
  priority: JobPriority;
  requestId: string;
  plan?: JobPlan;
}

/** A conversion of an upload. */
export interface ConversionRequest extends RequestBase {
  voiceId?: string;
  strength?: number;
  model?: string;
  pitchSemitones: number;
  outputFormat: OutputFormat;
  /** The output's size bound (outputSizeBound), reserved from the quota until the job ends. */
  outputBoundBytes?: number;
  webhook?: JobWebhook;
}

/** The analysis of a voice's stored reference recording. */
export type CloneRequest = RequestBase;

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
  readonly fairShare: FairShare;
  private readonly claims: ResourceClaims;
  private readonly keys: ReturnType<typeof queueKeys>;
  private readonly bull: BullConnection;
  private readonly ledger: UsageLedger;

  constructor(
    private readonly redis: RedisClient,
    private readonly events: JobEventLog,
    private readonly options: ConversionQueueOptions,
  ) {
    this.keys = queueKeys(options.prefix);
    this.fairShare = new FairShare(redis, options.prefix);
    this.claims = new ResourceClaims(redis, options.prefix);
    this.ledger = new UsageLedger(redis, options.prefix, options.dataDir);
    this.bull = bullConnection(options.redisUrl);
    this.queue = new Queue(CONVERSION_QUEUE, {
      connection: this.bull.connection,
      prefix: options.prefix,
    });
  }

  async enqueue(userId: string, upload: Upload, req: ConversionRequest): Promise<ConversionJobView> {
    return this.add(
      userId,
      req,
      usesOf({ kind: 'convert', uploadId: upload.id, voiceId: req.voiceId }),
      (priority, createdAt) => ({
        kind: 'convert',
        ...(req.voiceId ? { voiceId: req.voiceId, strength: req.strength ?? 1, model: req.model } : {}),
        userId,
        uploadId: upload.id,
        filename: upload.filename,
        demuxer: upload.demuxer,
        durationSec: upload.durationSec,
        pitchSemitones: req.pitchSemitones,
        outputFormat: req.outputFormat,
        priority,
        requestId: req.requestId,
        createdAt,
        ...(req.plan?.maxStorageBytes !== undefined ? { maxStorageBytes: req.plan.maxStorageBytes } : {}),
        ...(req.outputBoundBytes !== undefined ? { outputBoundBytes: req.outputBoundBytes } : {}),
        ...(req.webhook ? { webhook: req.webhook } : {}),
      }),
    );
  }

  /** Queues the analysis of a voice whose reference recording is stored. */
  async enqueueClone(userId: string, voice: Voice, req: CloneRequest): Promise<ConversionJobView> {
    return this.add(userId, req, [], (priority, createdAt) => ({
      kind: 'clone',
      userId,
      voiceId: voice.id,
      voiceName: voice.name,
      model: voice.model,
      demuxer: voice.reference.demuxer,
      durationSec: voice.reference.durationSec,
      priority,
      requestId: req.requestId,
      createdAt,
    }));
  }

  private async add(
    userId: string,
    req: RequestBase,
    uses: Use[],
    build: (priority: JobPriority, createdAt: number) => ConversionJobData,
  ): Promise<ConversionJobView> {
    const id = randomUUID();
    // What the job needs is claimed first: a delete of it now waits for the job to end (409), and
    // one that came first refuses the job (404).
    await this.claims.claim(id, uses);
    try {
      return await this.admitAndAdd(id, userId, req, build);
    } catch (err) {
      await this.claims.release(id, uses).catch(() => {});
      throw err;
    }
  }

  private async admitAndAdd(
    id: string,
    userId: string,
    req: RequestBase,
    build: (priority: JobPriority, createdAt: number) => ConversionJobData,
  ): Promise<ConversionJobView> {
    const createdAt = Date.now();
    const plan = req.plan;
    const priority = plan ? allowedPriority(req.priority, plan.maxJobPriority) : req.priority;
    const index = { key: this.keys.userJobs(userId), createdAt, ttlSec: KEEP_FINISHED_SEC };
    // Fair share: admitted against the queued-jobs quota and indexed for the user in the same
    // script: one round trip before the BullMQ add; its place among the user's waiting jobs gives
    // its first priority, and settle() keeps the numbers right as the backlog changes.
    // A job without a plan (a clone) is recorded as waiting too, uncapped, with no base: GET
    // /api/queue reads a user's waiting jobs from that set.
    const waitingAhead = await this.fairShare.admit(
      userId,
      id,
      plan?.maxQueuedJobs ?? Number.MAX_SAFE_INTEGER,
      index,
      plan ? fairBase(plan.priorityBase, priority) : undefined,
    );
    const data: ConversionJobData = {
      ...build(priority, createdAt),
      ...(plan ? { maxActiveJobs: plan.maxActiveJobs, maxDurationSec: plan.maxDurationSec } : {}),
    };
    const job = await this.queue
      .add(data.kind, data, {
        jobId: id,
        priority: plan ? fairPriority(plan.priorityBase, priority, waitingAhead) : BULL_PRIORITY[priority],
        attempts: this.options.attempts,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: KEEP_FINISHED_SEC },
        removeOnFail: { age: KEEP_FINISHED_SEC },
      })
      .catch(async (err) => {
        await this.fairShare.settle(userId, id).catch(() => {});
        throw err;
      });
    // A job of the user that started or left between the admission and the add moved the places.
    if (plan) await this.fairShare.settle(userId);
    return toJobView(job, 'waiting');
  }

  async get(userId: string, jobId: string): Promise<ConversionJobView> {
    const job = await this.queue.getJob(jobId);
    if (job && job.data.userId === userId) return this.viewNow(job);
    const tomb = await this.redis.get(this.keys.tombstone(jobId));
    if (tomb) {
      const view = JSON.parse(tomb) as ConversionJobView & { userId: string };
      if (view.userId === userId) {
        const { userId: _owner, webhook: _webhook, ...rest } = view as typeof view & { webhook?: unknown };
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

  /**
   * Bytes the user's queued and running jobs may still write (their outputs' size bounds): what
   * admission reserves from the quota besides the files on disk.
   */
  async reservedOutputBytes(userId: string): Promise<number> {
    const ids = await this.fairShare.unfinished(userId);
    if (ids.length === 0) return 0;
    // Every POST /api/jobs asks this: one pipelined read of the two fields it needs, not a whole
    // job object per unfinished job (a user with 800 queued jobs made each POST read 800 jobs).
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.queue.toKey(id), 'data', 'finishedOn');
    let bytes = 0;
    for (const [err, reply] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      const [data, finishedOn] = reply as [string | null, string | null];
      if (data === null || finishedOn !== null) continue;
      const job = JSON.parse(data) as Pick<ConversionJobData, 'userId' | 'kind'> & {
        outputBoundBytes?: number;
      };
      if (job.userId === userId && job.kind !== 'clone') bytes += job.outputBoundBytes ?? 0;
    }
    return bytes;
  }

  /**
   * One page of the user's jobs, newest first, optionally only in some states. `cursor` is the
   * `nextCursor` of the page before (`<createdAt>_<id>`); a full page always has a nextCursor
   * (the page after it may be empty), a shorter one has none.
   */
  async listPage(
    userId: string,
    opts: { limit: number; cursor?: { createdAt: number; id: string }; states?: Set<PublicJobState> },
  ): Promise<{ jobs: ConversionJobView[]; nextCursor: string | null }> {
    const key = this.keys.userJobs(userId);
    const { cursor, limit, states } = opts;
    const max = cursor ? String(cursor.createdAt) : '+inf';
    const jobs: ConversionJobView[] = [];
    const CHUNK = 100;
    for (let offset = 0; ; offset += CHUNK) {
      const raw = await this.redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', offset, CHUNK);
      for (let i = 0; i < raw.length; i += 2) {
        const id = raw[i];
        const createdAt = Number(raw[i + 1]);
        // Equal scores come in reverse id order: those at or above the cursor's id were on earlier pages.
        if (cursor && createdAt === cursor.createdAt && id >= cursor.id) continue;
        const view = await this.get(userId, id).catch(() => undefined);
        if (!view || (states && !states.has(view.state))) continue;
        jobs.push(view);
        if (jobs.length === limit) return { jobs, nextCursor: `${createdAt}_${id}` };
      }
      if (raw.length < CHUNK * 2) return { jobs, nextCursor: null };
    }
  }

  /**
   * Cancels a job. A queued job is removed at once; an active one is told to stop (every worker
   * process hears the pub/sub message; a worker that picks the job up later sees the marker). The
   * marker holds who cancelled (`by`), the first canceller's, which the job's error message then says.
   * Cancels that race answer alike (BullMQ's remove of a job already removed succeeds too): the one
   * that adds the job to the count of queued cancellations frees its place and claims and tells the
   * user; every one answers the cancelled record (written before the remove, so it is there once
   * the job is gone). A job already cancelled while queued answers its record.
   */
  async cancel(userId: string, jobId: string, by: CancelledBy = 'user'): Promise<ConversionJobView> {
    const job = await this.queue.getJob(jobId);
    if (!job || job.data.userId !== userId) return this.get(userId, jobId);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return this.viewNow(job);
    const marker = this.keys.cancelMarker(jobId);
    await this.redis.set(marker, by, 'EX', KEEP_FINISHED_SEC, 'NX');
    const firstBy: CancelledBy = (await this.redis.get(marker)) === 'operator' ? 'operator' : 'user';
    if (state !== 'active') {
      const view = cancelledView(job, state, firstBy);
      await this.writeTombstone(userId, job, view);
      if (await this.removeQueued(job)) return this.cancelledQueued(userId, job, view);
      // A worker took it meanwhile: it is stopped below, and the record is not its end.
      await this.redis.del(this.keys.tombstone(jobId));
    }
    await this.redis.publish(this.keys.cancelChannel, jobId);
    return this.viewNow(job);
  }

  /** The record of a job cancelled while queued, for `get` once the job is removed; kept if one is. */
  private async writeTombstone(userId: string, job: ConversionBullJob, view: ConversionJobView) {
    // The webhook stays with the tombstone: the `cancelled` delivery still needs it.
    const webhook = job.data.kind === 'convert' ? job.data.webhook : undefined;
    await this.redis.set(
      this.keys.tombstone(view.id),
      JSON.stringify({ ...view, userId, webhook }),
      'EX',
      KEEP_FINISHED_SEC,
      'NX',
    );
  }

  /**
   * The queued job is removed. Counted once (system stats, admin usage, the queue gauge): the
   * call whose ZADD added it frees its place and claims and tells the user; any other answers.
   */
  private async cancelledQueued(
    userId: string,
    job: ConversionBullJob,
    view: ConversionJobView,
  ): Promise<ConversionJobView> {
    const jobId = view.id;
    const counted = scalingKeys(this.options.prefix).cancelledQueued;
    const [[, added] = []] =
      (await this.redis
        .multi()
        .zadd(counted, view.finishedAt ?? Date.now(), jobId)
        .zremrangebyscore(counted, '-inf', Date.now() - KEEP_FINISHED_SEC * 1000)
        .exec()) ?? [];
    if (Number(added) === 1) {
      await this.fairShare.settle(userId, jobId);
      await this.claims.release(jobId, usesOf(job.data));
      await this.events.publish(
        userId,
        { type: 'cancelled', jobId },
        { jobWebhook: hasOwnWebhook(job.data) },
      );
    }
    return this.get(userId, jobId);
  }

  /**
   * The owners of the newest `limit` jobs cancelled while queued whose record is still kept (a
   * removed record is no longer counted, as a removed finished job is not), newest first.
   */
  async cancelledWhileQueued(limit: number): Promise<string[]> {
    const ids = await this.redis.zrevrange(scalingKeys(this.options.prefix).cancelledQueued, 0, limit - 1);
    if (ids.length === 0) return [];
    const tombs = await this.redis.mget(ids.map((id) => this.keys.tombstone(id)));
    const owners: string[] = [];
    for (const tomb of tombs) {
      const userId = tomb ? (JSON.parse(tomb) as { userId?: string }).userId : undefined;
      if (userId) owners.push(userId);
    }
    return owners;
  }

  /**
   * The job's view with its state read now. A job object read before it finished has no
   * failedReason or finishedOn: with a fresh 'failed' state it read as `failed` with no error where
   * the worker had failed it as cancelled (a worker that took the job as it was cancelled). So a
   * finished state read with an unfinished object reads the job again.
   */
  private async viewNow(job: ConversionBullJob): Promise<ConversionJobView> {
    const state = await job.getState();
    const stale = (state === 'completed' || state === 'failed') && !job.finishedOn;
    const fresh = stale ? ((await this.queue.getJob(String(job.id))) ?? job) : job;
    return toJobView(fresh, state);
  }

  /**
   * The webhook each job asked for (`undefined` where it asked for none or is not that user's),
   * read from the job's data or a cancelled job's tombstone: one round trip for them all, since
   * the webhook dispatcher asks this for every event of the stream.
   */
  async webhooksOf(jobs: { userId: string; jobId: string }[]): Promise<(JobWebhook | undefined)[]> {
    if (jobs.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const { jobId } of jobs) pipe.hget(this.queue.toKey(jobId), 'data').get(this.keys.tombstone(jobId));
    const replies = (await pipe.exec()) ?? [];
    return jobs.map(({ userId }, i) => {
      const [[dataErr, data], [tombErr, tomb]] = [replies[2 * i], replies[2 * i + 1]];
      if (dataErr) throw dataErr;
      if (tombErr) throw tombErr;
      if (typeof data === 'string') {
        const job = JSON.parse(data) as {
          userId: string;
          kind: ConversionJobData['kind'];
          webhook?: JobWebhook;
        };
        return job.userId === userId && job.kind === 'convert' ? job.webhook : undefined;
      }
      const view =
        typeof tomb === 'string' ? (JSON.parse(tomb) as { userId: string; webhook?: JobWebhook }) : undefined;
      return view?.userId === userId ? view.webhook : undefined;
    });
  }

  /**
   * The user a job belongs to, if the job or its cancelled record is still kept (signed result
   * links are checked against it; the admin's job routes look jobs up by it).
   */
  async ownerOf(jobId: string): Promise<string | undefined> {
    const owner = (await this.queue.getJob(jobId))?.data.userId;
    if (owner) return owner;
    const tomb = await this.redis.get(this.keys.tombstone(jobId));
    return tomb ? (JSON.parse(tomb) as { userId?: string }).userId : undefined;
  }

  /** Where the finished output of the user's job lives. */
  async resultOf(
    userId: string,
    jobId: string,
  ): Promise<{ path: string; format: OutputFormat; filename: string }> {
    const job = await this.ownedJob(userId, jobId);
    // A clone writes a voice profile, not a result.
    if (job.data.kind === 'clone') throw new NotFoundError('result');
    const state = publicState(await job.getState(), job.failedReason);
    // Not yet is not never: a job still on its way says so (409), one that failed or was cancelled has none (404).
    if (state === 'queued' || state === 'active') throw new JobNotFinishedError(jobId, state);
    if (state !== 'completed') throw new NotFoundError('result');
    return {
      path: outputPathFor(this.options.dataDir, userId, jobId, job.data.outputFormat),
      format: job.data.outputFormat,
      filename: job.data.filename,
    };
  }

  /**
   * Where the user's conversion stands for a partial read: its state, its current attempt
   * (BullMQ's attemptsStarted) and that attempt's partial file, and the final file. Read again at
   * each poll: an attempt that changes means the bytes read so far were another attempt's.
   */
  async partialOf(userId: string, jobId: string): Promise<PartialResult> {
    const job = await this.ownedJob(userId, jobId);
    if (job.data.kind === 'clone') throw new NotFoundError('result');
    const finalPath = outputPathFor(this.options.dataDir, userId, jobId, job.data.outputFormat);
    const attempt = job.attemptsStarted;
    return {
      state: publicState(await job.getState(), job.failedReason),
      attempt,
      partPath: partialOutputPath(finalPath, attempt),
      finalPath,
      format: job.data.outputFormat,
      filename: job.data.filename,
    };
  }

  /**
   * Removes a finished job's output and records on the job that it is gone, so that views stop
   * offering it without looking at the disk. The file goes first: a failure between the two
   * leaves a link that answers 404, and the user's retry records it.
   */
  async removeResult(userId: string, jobId: string): Promise<void> {
    const r = await this.resultOf(userId, jobId);
    await rm(r.path, { force: true });
    await this.ledger.sync(userId, [{ folder: 'outputs', name: path.basename(r.path) }]);
    await this.markResultGone(userId, jobId, 'deleted');
  }

  /**
   * Records on the user's conversion that its output was removed and why (the sweeper calls this
   * for the outputs it removes), then tells the user's clients (`resultGone`), so an open tab stops
   * offering it at once. A job that is gone, or not the user's, or already marked, is left alone.
   */
  async markResultGone(userId: string, jobId: string, why: ResultGone): Promise<void> {
    const job = await this.queue.getJob(jobId);
    const data = job?.data;
    if (!job || data?.userId !== userId || data.kind !== 'convert' || data.resultGone) return;
    const marked: ConvertJobData = { ...data, resultGone: why };
    await (job as ConversionBullJob).updateData(marked);
    await this.events.publish(userId, { type: 'resultGone', jobId, why });
  }

  /**
   * Removes a finished conversion of the user for good: its result file, then its record (the
   * BullMQ job or a cancelled job's tombstone, its place in the user's list, its cancel marker).
   * The file goes first, so a failure leaves the job listed with its result link, and a retry
   * finishes the removal; then a `removed` event tells the user's clients. A job still queued or running is refused (cancel it first), and so is a
   * voice's analysis (the voice reads its state from it: delete the voice instead).
   */
  async removeFinished(userId: string, jobId: string): Promise<void> {
    const job = await this.queue.getJob(jobId);
    if (job && job.data.userId === userId) {
      if (job.data.kind === 'clone')
        throw new ConflictError("this job is a voice's analysis: delete the voice instead");
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed')
        throw new ConflictError('this job has not finished: cancel it first, then remove it');
      const output = outputPathFor(this.options.dataDir, userId, jobId, job.data.outputFormat);
      await rm(output, { force: true });
      await this.ledger.sync(userId, [{ folder: 'outputs', name: path.basename(output) }]);
      await job.remove();
    } else if (!(await this.tombstoneOwnedBy(userId, jobId))) {
      throw new NotFoundError('job');
    }
    // A job cancelled while queued leaves the counts with its record, as a removed BullMQ job does.
    await this.redis
      .multi()
      .zrem(this.keys.userJobs(userId), jobId)
      .zrem(scalingKeys(this.options.prefix).cancelledQueued, jobId)
      .del(this.keys.tombstone(jobId), this.keys.cancelMarker(jobId))
      .exec();
    // The user's other tabs and clients drop the job as they learn of its other changes.
    await this.events.publish(userId, { type: 'removed', jobId });
  }

  private async tombstoneOwnedBy(userId: string, jobId: string): Promise<boolean> {
    const tomb = await this.redis.get(this.keys.tombstone(jobId));
    return tomb !== null && (JSON.parse(tomb) as { userId?: string }).userId === userId;
  }

  /**
   * The ids of what the user's queued and running jobs need (`<uploadId>`, `<voiceId>` and
   * `job:<jobId>`): those files must stay (the sweeper and upload deletion check this). Reads only
   * this user's jobs, not the whole queue.
   */
  async filesInUse(userId: string): Promise<Set<string>> {
    const inUse = new Set<string>();
    for (const job of await this.unfinishedJobs(userId)) {
      inUse.add(`job:${job.id}`);
      // A conversion needs its upload and its target voice's profile; a clone its voice's reference.
      if (job.data.kind !== 'clone') inUse.add(job.data.uploadId);
      if (job.data.voiceId) inUse.add(job.data.voiceId);
    }
    return inUse;
  }

  /**
   * Refuses (409) to let the user remove an upload or a voice that one of their queued or running
   * conversions needs: without it the job would fail when it starts. A voice's own analysis does
   * not count (deleting the voice cancels it).
   */
  /**
   * Removes `what` from what jobs may use, in one step with the check that no unfinished job
   * claims it (ResourceClaims); ConflictError while one does. Then its files may go.
   */
  async retire(userId: string, what: 'upload' | 'voice', id: string): Promise<void> {
    // Jobs queued before claims were kept have none: the user's own jobs are looked at too.
    await this.assertNotNeeded(userId, what, id);
    await this.claims.retire({ kind: what, id });
  }

  private async assertNotNeeded(userId: string, what: 'upload' | 'voice', id: string): Promise<void> {
    for (const job of await this.unfinishedJobs(userId)) {
      if (job.data.kind !== 'convert') continue;
      if ((what === 'upload' ? job.data.uploadId : job.data.voiceId) === id)
        throw new ConflictError(`a queued or running job uses this ${what}; cancel it first`);
    }
  }

  /** The user's jobs not finished yet, read from the user's list (not the whole queue). */
  private async unfinishedJobs(userId: string) {
    const ids = await this.redis.zrange(this.keys.userJobs(userId), 0, -1);
    const jobs = await Promise.all(ids.map((id) => this.queue.getJob(id)));
    const unfinished: NonNullable<(typeof jobs)[number]>[] = [];
    for (const job of jobs)
      if (job?.data && job.data.userId === userId && !job.finishedOn) unfinished.push(job);
    return unfinished;
  }

  /** Cancels every unfinished job of the user (an account an operator removed); returns how many. */
  async cancelAllOf(userId: string): Promise<number> {
    const ids = await this.redis.zrange(this.keys.userJobs(userId), 0, -1);
    let cancelled = 0;
    for (const id of ids) {
      const view = await this.get(userId, id).catch(() => undefined);
      if (view?.state !== 'queued' && view?.state !== 'active') continue;
      await this.cancel(userId, id, 'operator').catch(() => undefined);
      cancelled++;
    }
    await this.fairShare.forget(userId);
    return cancelled;
  }

  /** Closes the queue's connections; cut after a deadline (a close waits forever while Redis is down). */
  async close(): Promise<void> {
    await withDeadline(
      this.queue.close(),
      REDIS_QUIT_DEADLINE_MS,
      () => void this.queue.disconnect().catch(() => {}),
    );
    this.bull.release();
  }

  /**
   * Removes a job that is not running (or is already removed); false when a worker took it
   * meanwhile (BullMQ refuses to remove a locked job), so the caller stops it instead. Any other
   * failure (Redis down) is thrown.
   */
  private async removeQueued(job: ConversionBullJob): Promise<boolean> {
    try {
      await job.remove();
      return true;
    } catch (err) {
      const now = await job.getState();
      if (now === 'active' || now === 'completed' || now === 'failed') return false;
      throw err;
    }
  }

  private async ownedJob(userId: string, jobId: string): Promise<ConversionBullJob> {
    const job = await this.queue.getJob(jobId);
    if (!job || job.data.userId !== userId) throw new NotFoundError('job');
    return job;
  }
}

/** What a job needs kept while it waits or runs: a conversion's upload and its voice. */
function usesOf(data: { kind: string; uploadId?: string; voiceId?: string | null }): Use[] {
  if (data.kind !== 'convert') return [];
  const uses: Use[] = data.uploadId ? [{ kind: 'upload', id: data.uploadId }] : [];
  return data.voiceId ? [...uses, { kind: 'voice', id: data.voiceId }] : uses;
}

/** A queued job as its cancel leaves it: cancelled now, by whoever cancelled it first. */
function cancelledView(job: ConversionBullJob, state: string, by: CancelledBy): ConversionJobView {
  return {
    ...toJobView(job, state),
    state: 'cancelled',
    finishedAt: Date.now(),
    error: { code: 'VC_ERR_CANCELLED', message: cancelMessage(by) },
  };
}
