// Only this import-free module: the page's type-check (web/tsconfig.json) reads this file too.
import type { OutputFormat } from '../media/formats.js';

export const CONVERSION_QUEUE = 'conversions';

export type JobPriority = 'high' | 'normal' | 'low';

/** BullMQ priorities: lower number runs first. */
export const BULL_PRIORITY: Record<JobPriority, number> = { high: 1, normal: 10, low: 100 };

/** Where a job's events are POSTed (src/webhooks), and which of them. */
export interface JobWebhook {
  url: string;
  events: WebhookEvent[];
}

export type WebhookEvent = 'completed' | 'failed' | 'cancelled' | 'progress';

/** What every job carries through Redis. Paths are derived from ids, never stored from input. */
interface JobDataBase {
  userId: string;
  /** Demuxer found by the probe; the worker passes it to ffmpeg as `-f`. */
  demuxer: string;
  /** Length of the source audio (the upload, or a clone's reference recording). */
  durationSec: number;
  priority: JobPriority;
  requestId: string;
  createdAt: number;
  /** The user's cap on running jobs (fair share, checked by the worker). */
  maxActiveJobs?: number;
  /** The plan's longest audio; the worker's decoder stops there. */
  maxDurationSec?: number;
}

/** Makes an output from an upload, optionally toward a target voice. */
export interface ConvertJobData extends JobDataBase {
  kind: 'convert';
  /** The upload to convert. */
  uploadId: string;
  /** Client file name of the upload, for the download name. */
  filename: string;
  /** Target voice (a user's voice id or a preset id). */
  voiceId?: string;
  /** 0 keeps the source timbre, 1 reaches the target's. */
  strength?: number;
  /** Model folder name under MODELS_DIR (voice conversions). */
  model?: string;
  pitchSemitones: number;
  outputFormat: OutputFormat;
  /** The most bytes the output may take (outputSizeBound): reserved from the quota while unfinished. */
  outputBoundBytes?: number;
  /** The plan's workspace byte quota: the worker stops an output that outgrows what is left of it. */
  maxStorageBytes?: number;
  /** The job's own webhook, in place of the user's default one. */
  webhook?: JobWebhook;
  /** Set by whoever removes the finished output (the user's DELETE, the sweeper): why it is gone. */
  resultGone?: ResultGone;
}

/** Why a completed conversion has no result any more: its owner deleted it, or its lifetime ended. */
export type ResultGone = 'deleted' | 'expired';

/** Analyses a voice's reference recording (`voices/<voiceId>`) into its profile. */
export interface CloneJobData extends JobDataBase {
  kind: 'clone';
  /** The voice the clone creates. */
  voiceId: string;
  /** The voice's name, as the user gave it. */
  voiceName: string;
  /** Model folder name under MODELS_DIR. */
  model: string;
}

/** What a job carries through Redis, by kind. */
export type ConversionJobData = ConvertJobData | CloneJobData;

/** Whether the job's events go to a webhook of its own (its publisher feeds them to the dispatcher). */
export function hasOwnWebhook(data: ConversionJobData): boolean {
  return data.kind === 'convert' && data.webhook !== undefined;
}

export interface ConversionResult {
  outputFormat: OutputFormat;
  bytes: number;
  durationSec: number;
  /** Seconds of audio converted per second of wall time. */
  realTimeFactor: number;
  processingMs: number;
}

export type PublicJobState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

/** Who cancelled a job: the value of its cancel marker, read by the worker that stops it. */
export type CancelledBy = 'user' | 'operator';

/** A cancelled job's error message, saying who cancelled it (an old marker, `1`, was its user). */
export function cancelMessage(by: string | null | undefined): string {
  return by === 'operator' ? 'cancelled by an operator' : 'cancelled by the user';
}

/**
 * A job as users see it, whatever its kind. A clone's `uploadId` is its voice's id (the reference
 * recording is stored under it) and its `filename` the voice's name; it has no result.
 */
export interface ConversionJobView {
  id: string;
  kind: 'convert' | 'clone';
  voiceId: string | null;
  state: PublicJobState;
  progress: number;
  stage: string | null;
  uploadId: string;
  filename: string;
  outputFormat: OutputFormat;
  pitchSemitones: number;
  /** Timbre strength toward the target voice (conversions with a voice), else null. */
  strength: number | null;
  /** Model of a voice conversion or clone, else null. */
  model: string | null;
  /** Length of the source audio in seconds. */
  durationSec: number;
  priority: JobPriority;
  attempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: { code: string; message: string } | null;
  resultUrl: string | null;
  /**
   * A completed conversion whose output was removed (resultUrl is then null): why; the admin's
   * view of a removed account's job says `account-removed`.
   */
  resultGone?: ResultGone | 'account-removed';
  /**
   * A conversion's original as uploaded, a signed link for its owner (`/api/uploads/:id/audio`,
   * like the upload's own `audioUrl`): set on the answers of the job routes, so a job's detail
   * needs no second request for it. It plays nothing once the upload was removed.
   */
  sourceUrl?: string;
  /**
   * Conversions not finished yet: where the part converted so far plays while the job runs
   * (`/api/jobs/:id/result?partial=1`, signed like resultUrl), whether any of it is written yet,
   * and about how many seconds of output the encoder has been given.
   */
  partialUrl?: string;
  partialAvailable?: boolean;
  partialSec?: number;
}

/** Where a queued job stands (src/queue/queue-estimate.ts): 1 = next to start. */
export interface QueuePlace {
  jobId: string;
  position: number;
  /** Seconds until it is expected to start, from recent throughput; null when there is too little to go by. */
  etaSec: number | null;
}

/** Progress as stored on the BullMQ job by the worker. */
export interface JobProgress {
  progress: number;
  stage: string;
  /** Seconds of output audio handed to the encoder by the current attempt. */
  partialSec?: number;
}

/** A job that failed for good, as the admin dashboard lists it (src/queue/admin-views.ts). */
export interface FailureView {
  id: string;
  userId: string;
  kind: string;
  filename: string;
  code: string;
  message: string;
  finishedAt: number | null;
}

/** One user's jobs by state and audio converted, as the admin dashboard lists them. */
export interface UserUsage {
  userId: string;
  queued: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Seconds of audio in the user's finished conversions. */
  audioSec: number;
}
