import { stat } from 'node:fs/promises';
import path from 'node:path';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../src/config/index.js';
import { encodeJobFailure, errorCodeOf, type JobFailure } from '../src/errors/index.js';
import type { WorkerMetrics } from '../src/metrics/core.js';
import { DEFAULT_MODEL, ModelCatalog, ModelLoadReports } from '../src/models/core.js';
import type { JobEventLog } from '../src/progress/core.js';
import {
  type ConversionJobData,
  type ConversionResult,
  type ConvertJobData,
  cancelMessage,
  hasOwnWebhook,
  queueKeys,
} from '../src/queue/core.js';
import type { RedisClient } from '../src/redis/core.js';
import {
  ensureWorkspace,
  type Folder,
  fileIn,
  outputPathFor,
  partialOutputPath,
  UsageLedger,
  workspaceFor,
} from '../src/workspace/core.js';
import { jobLogFields } from './job-labels.js';
import type { WorkerPool } from './pool/index.js';
import { type CloneTask, type ConvertTask, TaskControl, type TaskOutcome } from './tasks/task-types.js';

const PROGRESS_INTERVAL_MS = 500;
/**
 * Fewest milliseconds between two progress events of a job that only move its numbers: a job
 * running at 20x real time crosses a 5 % step every 75 ms, and each event costs a BullMQ
 * progress write, a stream entry, and every listening socket's message. A stage change and the
 * first partial audio go out at once.
 */
const PROGRESS_MIN_GAP_MS = 250;

/** Failure codes that mean ffmpeg failed, and their `kind` label in vcfarm_ffmpeg_failures_total. */
const FFMPEG_FAILURE: Record<string, string> = {
  VC_ERR_UNDECODABLE_AUDIO: 'decode',
  VC_ERR_PIPELINE: 'pipeline',
};

export type ConversionBullJob = Job<ConversionJobData, ConversionResult>;

/** The error a processor throws for a failure: its message is the failure as JSON (decodeJobFailure). */
function jobError(failure: JobFailure): Error {
  const reason = encodeJobFailure(failure);
  return failure.retryable ? new Error(reason) : new UnrecoverableError(reason);
}

/** A cancellation, saying who asked for it (the value of the job's cancel marker). */
const cancelled = (by: string | null): JobFailure => ({
  code: 'VC_ERR_CANCELLED',
  message: cancelMessage(by),
  retryable: false,
});

const WORKER_STOPPED: JobFailure = {
  code: 'VC_ERR_WORKER_STOPPED',
  message: 'the worker stopped before the job finished; it is retried',
  retryable: true,
};

/**
 * BullMQ's processor for conversion jobs. It does no audio work itself: it builds the task,
 * hands it to an idle pool thread, relays the thread's progress, and turns the outcome into a
 * result or an error BullMQ understands (UnrecoverableError for input that can never work).
 */
export class ConversionProcessor {
  private readonly running = new Map<string, { control: TaskControl; job: ConversionBullJob }>();
  /** Jobs stopped by `stopAll` (the worker is shutting down), not by their user. */
  private readonly stopped = new Set<string>();
  private readonly keys: ReturnType<typeof queueKeys>;
  private readonly models: ModelCatalog;
  private readonly modelReports: ModelLoadReports;
  private readonly ledger: UsageLedger;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    private readonly events: JobEventLog,
    private readonly pool: WorkerPool,
    private readonly log: Logger,
    private readonly metrics?: WorkerMetrics,
  ) {
    this.keys = queueKeys(config.redisPrefix);
    this.modelReports = new ModelLoadReports(redis, config.redisPrefix);
    this.models = new ModelCatalog(config.modelsDir, this.modelReports);
    this.ledger = new UsageLedger(redis, config.redisPrefix, config.dataDir);
  }

  /** Asks the job's thread to stop between two chunks; false if the job does not run here. */
  cancel(jobId: string): boolean {
    const entry = this.running.get(jobId);
    entry?.control.cancel();
    return entry !== undefined;
  }

  /**
   * Stops every running job between two chunks, as a cancel does (its ffmpeg killed, its partial
   * file removed), but the job fails with a retryable VC_ERR_WORKER_STOPPED, so BullMQ runs it
   * again elsewhere. For a shutdown whose job grace ran out. Returns how many were running.
   */
  stopAll(): number {
    for (const [jobId, { control }] of this.running) {
      if (control.cancelled) continue; // the user's cancel came first
      this.stopped.add(jobId);
      control.cancel();
    }
    return this.running.size;
  }

  /** The job running here under that id, if any. */
  runningJob(jobId: string): ConversionBullJob | undefined {
    return this.running.get(jobId)?.job;
  }

  readonly process = async (job: ConversionBullJob): Promise<ConversionResult> => {
    const jobId = String(job.id);
    // Registered before the cancel marker is read: the API sets the marker, then publishes the
    // cancel. A cancel published before this line is seen in the marker; one after, by cancel().
    const control = new TaskControl();
    this.running.set(jobId, { control, job });
    try {
      // The cancel marker and the task's preparation (folders, quota, voice) are waits, not work:
      // both at once. A cancel wins over a preparation that failed.
      const [marker, prepared] = await Promise.allSettled([
        this.redis.get(this.keys.cancelMarker(jobId)),
        this.prepare(job, control),
      ]);
      if (marker.status === 'rejected') throw marker.reason;
      if (marker.value !== null) throw jobError(cancelled(marker.value));
      if (prepared.status === 'rejected') throw prepared.reason;
      return await this.run(job, control, prepared.value);
    } finally {
      this.running.delete(jobId);
      this.stopped.delete(jobId);
    }
  };

  /** The pool task for the job: its workspace folders made, its quota left measured, its voice found. */
  private async prepare(job: ConversionBullJob, control: TaskControl): Promise<ConvertTask | CloneTask> {
    const jobId = String(job.id);
    const { data } = job;
    // Waiting time ends when the first attempt reaches a thread (after the fair-share check).
    if (job.attemptsMade === 0)
      this.metrics?.queueWait.labels(data.priority).observe(Math.max(0, Date.now() - job.timestamp) / 1000);
    const workspace = workspaceFor(this.config.dataDir, data.userId);
    const maxDurationSec = Math.min(
      this.config.maxDurationSec,
      data.maxDurationSec ?? Number.POSITIVE_INFINITY,
    );
    if (data.kind === 'clone') {
      const ws = await ensureWorkspace(workspace);
      return {
        kind: 'clone',
        jobId,
        inputPath: fileIn(ws.voices, data.voiceId),
        demuxer: data.demuxer,
        durationSec: data.durationSec,
        maxDurationSec,
        modelDir: this.models.dirOf(data.model),
        profilePath: fileIn(ws.voices, data.voiceId, '.profile.json'),
        label: data.voiceName,
        control: control.buffer,
      };
    }
    // The quota is measured while the folders are made: a folder that does not exist yet holds nothing.
    const [ws, maxOutputBytes, voice] = await Promise.all([
      ensureWorkspace(workspace),
      this.quotaLeft(job, data),
      data.voiceId ? this.voiceFor(data) : undefined,
    ]);
    return {
      kind: 'convert',
      jobId,
      attempt: job.attemptsStarted,
      inputPath: fileIn(ws.uploads, data.uploadId),
      demuxer: data.demuxer,
      outputPath: outputPathFor(this.config.dataDir, data.userId, jobId, data.outputFormat),
      outputFormat: data.outputFormat,
      pitchSemitones: data.pitchSemitones,
      durationSec: data.durationSec,
      maxDurationSec,
      maxOutputBytes,
      control: control.buffer,
      voice,
    };
  }

  private async run(
    job: ConversionBullJob,
    control: TaskControl,
    task: ConvertTask | CloneTask,
  ): Promise<ConversionResult> {
    const { data } = job;
    const jlog = this.log.child(jobLogFields(job));
    const watcher = this.relayProgress(job, control, jlog);
    jlog.info({ attempt: job.attemptsStarted }, 'conversion started');
    try {
      const outcome = await this.pool.run(task);
      // The job's files are counted before BullMQ hears it finished: a worker that dies before
      // that leaves the job to run again (and count again); the sweeper's reconcile covers the rest.
      await Promise.all([this.reportModel(data, outcome, jlog), this.countFiles(job, jlog)]);
      if (outcome.status === 'cancelled')
        throw jobError(
          this.stopped.has(task.jobId)
            ? WORKER_STOPPED
            : cancelled(await this.redis.get(this.keys.cancelMarker(task.jobId)).catch(() => null)),
        );
      if (outcome.status === 'failed') {
        const ffmpeg = FFMPEG_FAILURE[outcome.code];
        if (ffmpeg) this.metrics?.ffmpegFailures.labels(ffmpeg).inc();
        if (outcome.detail) jlog.warn({ code: outcome.code, detail: outcome.detail }, 'conversion failed');
        throw jobError({ code: outcome.code, message: outcome.message, retryable: outcome.retryable });
      }
      const durationSec = outcome.status === 'completed' ? outcome.durationSec : data.durationSec;
      const result: ConversionResult = {
        outputFormat: data.kind === 'clone' ? 'wav' : data.outputFormat,
        bytes: outcome.status === 'completed' ? outcome.bytes : 0,
        durationSec,
        processingMs: outcome.processingMs,
        realTimeFactor: durationSec / Math.max(0.001, outcome.processingMs / 1000),
      };
      // A voice job's steps to its first audio: from the job's start (BullMQ's processedOn) to its thread, then each step.
      const first = outcome.status === 'completed' ? outcome.firstAudio : undefined;
      const firstAudio = first && { threadMs: first.at - (job.processedOn ?? first.at), steps: first.steps };
      jlog.info({ ...result, ...(firstAudio && { firstAudio }) }, 'conversion completed');
      return result;
    } finally {
      watcher.stop();
      await watcher.done;
    }
  }

  /**
   * The files a job writes: a conversion's output and each attempt's partial file; a clone's
   * profile and its partial file.
   */
  private filesOf(job: ConversionBullJob): { folder: Folder; name: string }[] {
    const { data } = job;
    if (data.kind === 'clone')
      return [`${data.voiceId}.profile.json`, `${data.voiceId}.profile.json.part`].map((name) => ({
        folder: 'voices',
        name,
      }));
    const output = outputPathFor(this.config.dataDir, data.userId, String(job.id), data.outputFormat);
    const attempts = Array.from({ length: Math.max(1, job.attemptsStarted) }, (_, i) => i + 1);
    return [output, ...attempts.map((n) => partialOutputPath(output, n))].map((p) => ({
      folder: 'outputs',
      name: path.basename(p),
    }));
  }

  /** Tells the usage ledger what the job's files hold now; a failure is left to the next reconcile. */
  private async countFiles(job: ConversionBullJob, jlog: Logger): Promise<void> {
    await this.ledger.sync(job.data.userId, this.filesOf(job)).catch((err) => {
      jlog.warn({ err }, 'could not count the job files in the usage ledger');
    });
  }

  /**
   * What is left of the user's byte quota for this job's output, measured now (the user may have
   * stored more since admission), not counting this job's own files from an earlier attempt.
   * One read of the usage ledger (src/workspace/usage-ledger.ts), not a scan.
   */
  private async quotaLeft(job: ConversionBullJob, data: ConvertJobData): Promise<number | undefined> {
    if (data.maxStorageBytes === undefined) return undefined;
    const usage = await this.ledger.usage(data.userId, this.filesOf(job));
    return Math.max(0, data.maxStorageBytes - usage.bytes);
  }

  /**
   * Tells the catalog what loading the job's model showed: a model that is not what its manifest says
   * is listed broken (and refused for new jobs) until its folder changes; one that ran clears that.
   */
  private async reportModel(data: ConversionJobData, outcome: TaskOutcome, jlog: Logger): Promise<void> {
    if (data.kind !== 'clone' && !data.voiceId) return;
    const model = data.model ?? DEFAULT_MODEL;
    try {
      if (outcome.status === 'failed' && outcome.code === 'VC_ERR_MODEL_MANIFEST') {
        await this.modelReports.record(model, this.models.dirOf(model), outcome.message);
      } else if (outcome.status === 'completed' || outcome.status === 'cloned') {
        await this.modelReports.clear(model);
      }
    } catch (err) {
      jlog.warn({ err, model }, 'could not store the model load report');
    }
  }

  /** Model folder and target profile of a voice conversion; a voice that vanished fails the job for good. */
  private async voiceFor(data: ConvertJobData): Promise<ConvertTask['voice']> {
    const model = data.model ?? DEFAULT_MODEL;
    const voiceId = data.voiceId ?? '';
    // A model that broke (or vanished) after the job was queued fails it for good, with the reason.
    await this.models.get(model).catch((err: Error) => {
      throw jobError({ code: errorCodeOf(err), message: err.message, retryable: false });
    });
    const profilePath = voiceId.startsWith('preset-')
      ? await this.models.presetProfile(model, voiceId).catch(() => undefined)
      : await stat(
          fileIn(workspaceFor(this.config.dataDir, data.userId).voices, voiceId, '.profile.json'),
        ).then(
          () => fileIn(workspaceFor(this.config.dataDir, data.userId).voices, voiceId, '.profile.json'),
          () => undefined,
        );
    if (!profilePath)
      throw jobError({
        code: 'VC_ERR_NOT_FOUND',
        message: `voice ${voiceId} is not available`,
        retryable: false,
      });
    return { modelDir: this.models.dirOf(model), profilePath, strength: data.strength ?? 1 };
  }

  /**
   * Publishes at each stage change and at the first partial audio at once; the progress of each
   * 5 % (the thread notifies) at most every PROGRESS_MIN_GAP_MS; and what changed at least every
   * 500 ms.
   */
  private relayProgress(job: ConversionBullJob, control: TaskControl, jlog: Logger) {
    let watching = true;
    const jobId = String(job.id);
    const publishOpts = { jobWebhook: hasOwnWebhook(job.data) };
    const publish = (now: { progress: number; stage: string; partialSec: number }) => {
      job.updateProgress(now).catch((err) => jlog.warn({ err }, 'progress update failed'));
      this.events.publish(job.data.userId, { type: 'progress', jobId, ...now }, publishOpts).catch(() => {});
    };
    const loop = async () => {
      let last = { progress: -1, stage: '', partialSec: 0 };
      let lastAt = Number.NEGATIVE_INFINITY;
      while (watching) {
        const seen = control.changes;
        // partialSec: output audio the encoder has (GET /api/jobs/:id/result?partial=1 serves it).
        const now = { progress: control.progress, stage: control.stage, partialSec: control.writtenSec };
        const notable = now.stage !== last.stage || (last.partialSec === 0 && now.partialSec > 0);
        const moved = now.progress !== last.progress || now.partialSec !== last.partialSec;
        const holdMs = notable ? 0 : lastAt + PROGRESS_MIN_GAP_MS - Date.now();
        if (moved && holdMs > 0) {
          // Too soon after the last event: wait out the gap (a stage change ends the wait).
          await control.waitForChange(seen, holdMs);
          continue;
        }
        if (notable || moved) {
          last = now;
          lastAt = Date.now();
          publish(now);
        }
        await control.waitForChange(seen, PROGRESS_INTERVAL_MS);
      }
    };
    const done = loop();
    return {
      done,
      stop: () => {
        watching = false;
        control.wake();
      },
    };
  }
}
