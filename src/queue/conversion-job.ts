// Only this import-free module: the page's type-check (web/tsconfig.json) reads this file too.
import type { OutputFormat } from '../media/formats.js';

export const CONVERSION_QUEUE = 'conversions';

export type JobPriority = 'high' | 'normal' | 'low';

/** BullMQ priorities: lower number runs first. */
export const BULL_PRIORITY: Record<JobPriority, number> = { high: 1, normal: 10, low: 100 };

/** What a conversion job carries through Redis. Paths are derived from ids, never stored from input. */
export interface ConversionJobData {
  /** `convert` makes an output from an upload; `clone` analyses a reference recording into a voice. */
  kind: 'convert' | 'clone';
  userId: string;
  /** The upload to convert, or for a clone the voice's reference recording. */
  uploadId: string;
  /** Target voice of a conversion (a user's voice id or a preset id), or the voice a clone creates. */
  voiceId?: string;
  /** 0 keeps the source timbre, 1 reaches the target's. */
  strength?: number;
  /** Model folder name under MODELS_DIR. */
  model?: string;
  /** Client file name of the upload, for the download name. */
  filename: string;
  /** Demuxer found by the probe; the worker passes it to ffmpeg as `-f`. */
  demuxer: string;
  durationSec: number;
  pitchSemitones: number;
  outputFormat: OutputFormat;
  priority: JobPriority;
  requestId: string;
  createdAt: number;
  /** The user's cap on running jobs (fair share, checked by the worker). */
  maxActiveJobs?: number;
  /** The plan's longest audio; the worker's decoder stops there. */
  maxDurationSec?: number;
  /** The most bytes the output may take (outputSizeBound): reserved from the quota while unfinished. */
  outputBoundBytes?: number;
  /** The plan's workspace byte quota: the worker stops an output that outgrows what is left of it. */
  maxStorageBytes?: number;
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

/** A job as users see it. */
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
}

/** Progress as stored on the BullMQ job by the worker. */
export interface JobProgress {
  progress: number;
  stage: string;
}
