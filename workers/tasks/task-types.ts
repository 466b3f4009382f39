import type { ErrorCode } from '../../src/errors/index.js';
import type { OutputFormat } from '../../src/media/index.js';
import type { FirstAudioTimes } from './first-audio.js';

/** What the pool hands a thread for one conversion. Plain data: it is structured-cloned. */
export interface ConvertTask {
  kind: 'convert';
  jobId: string;
  attempt: number;
  inputPath: string;
  demuxer: string;
  outputPath: string;
  outputFormat: OutputFormat;
  pitchSemitones: number;
  /** Expected decoded length, for progress (the real length may differ a little). */
  durationSec: number;
  maxDurationSec: number;
  /** What is left of the workspace's byte quota: the output is stopped when it reaches this. */
  maxOutputBytes?: number;
  /** Shared with the owner: see TaskControl. */
  control: SharedArrayBuffer;
  /** Set for a voice conversion through the model; absent for a plain pitch shift. */
  voice?: {
    modelDir: string;
    /** The target voice profile (JSON, vcfarm-voice/1). */
    profilePath: string;
    strength: number;
  };
}

/** Analyses a reference recording into a voice profile. */
export interface CloneTask {
  kind: 'clone';
  jobId: string;
  inputPath: string;
  demuxer: string;
  durationSec: number;
  maxDurationSec: number;
  modelDir: string;
  /** Where the profile goes (written under a temporary name, then renamed). */
  profilePath: string;
  label: string;
  control: SharedArrayBuffer;
}

export type TaskOutcome =
  | {
      status: 'completed';
      bytes: number;
      durationSec: number;
      processingMs: number;
      /** A voice conversion's steps to its first audio (for the log). */
      firstAudio?: FirstAudioTimes;
    }
  | { status: 'cloned'; f0Median: number | null; voicedSeconds: number; processingMs: number }
  | { status: 'cancelled' }
  | {
      status: 'failed';
      code: ErrorCode;
      /** Shown to the user: no server paths. */
      message: string;
      /** For the worker's log only (ffmpeg's own words). */
      detail?: string;
      retryable: boolean;
    };

export const STAGES = ['starting', 'analysing', 'converting', 'encoding', 'finalizing'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * A task's control block, shared between the pool owner and the thread without messages:
 * [0] cancel flag (owner writes 1), [1] stage index, [2] progress in millionths, [3] a change
 * counter the thread bumps (and notifies) at each stage change and each 5% of progress, [4]
 * milliseconds of output audio handed to the encoder so far (its partial file is playable).
 * The thread checks the flag between chunks, so cancelling never needs to terminate a thread.
 */
export class TaskControl {
  private readonly view: Int32Array;
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(20)) {
    this.view = new Int32Array(buffer);
  }
  cancel(): void {
    Atomics.store(this.view, 0, 1);
  }
  get cancelled(): boolean {
    return Atomics.load(this.view, 0) === 1;
  }
  report(stage: Stage, progress: number): void {
    const stageIndex = STAGES.indexOf(stage);
    const millionths = Math.round(Math.max(0, Math.min(1, progress)) * 1e6);
    const before = Atomics.load(this.view, 2);
    const stageChanged = Atomics.exchange(this.view, 1, stageIndex) !== stageIndex;
    Atomics.store(this.view, 2, millionths);
    if (stageChanged || Math.floor(millionths / 50_000) !== Math.floor(before / 50_000)) {
      Atomics.add(this.view, 3, 1);
      Atomics.notify(this.view, 3);
    }
  }
  /**
   * Records how much output audio the encoder has been given. The first output is notified at
   * once, so the job view says a partial result is there without waiting for the next 5 %.
   */
  reportWritten(seconds: number): void {
    const ms = Math.min(2 ** 31 - 1, Math.max(0, Math.round(seconds * 1000)));
    if (Atomics.exchange(this.view, 4, ms) === 0 && ms > 0) {
      Atomics.add(this.view, 3, 1);
      Atomics.notify(this.view, 3);
    }
  }
  /** Seconds of output audio the encoder has been given (see reportWritten). */
  get writtenSec(): number {
    return Atomics.load(this.view, 4) / 1000;
  }
  get stage(): Stage {
    return STAGES[Atomics.load(this.view, 1)] ?? 'starting';
  }
  get progress(): number {
    return Atomics.load(this.view, 2) / 1e6;
  }
  get changes(): number {
    return Atomics.load(this.view, 3);
  }
  /** Ends a pending waitForChange at once (used when the task is over). */
  wake(): void {
    Atomics.add(this.view, 3, 1);
    Atomics.notify(this.view, 3);
  }
  /** Resolves when the thread reports a notable change after `seen`, or after `timeoutMs`. */
  async waitForChange(seen: number, timeoutMs: number): Promise<void> {
    const r = Atomics.waitAsync(this.view, 3, seen, timeoutMs);
    if (r.async) await r.value;
  }
}
