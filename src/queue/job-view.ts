import type { Job } from 'bullmq';
import { decodeJobFailure } from '../errors/index.js';
import { withoutPaths } from '../media/index.js';
import type {
  ConversionJobData,
  ConversionJobView,
  ConversionResult,
  JobProgress,
  PublicJobState,
} from './conversion-job.js';

/** BullMQ's states folded into the five a user sees. */
export function publicState(bullState: string, failedReason: string | undefined): PublicJobState {
  switch (bullState) {
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return decodeJobFailure(failedReason)?.code === 'VC_ERR_CANCELLED' ? 'cancelled' : 'failed';
    default:
      // waiting, prioritized, delayed (a retry's back-off), waiting-children
      return 'queued';
  }
}

function progressOf(raw: unknown): JobProgress {
  if (raw && typeof raw === 'object' && 'progress' in raw) return raw as JobProgress;
  return { progress: typeof raw === 'number' ? raw : 0, stage: '' };
}

export function toJobView(
  job: Job<ConversionJobData, ConversionResult>,
  bullState: string,
): ConversionJobView {
  const state = publicState(bullState, job.failedReason);
  const p = progressOf(job.progress);
  const failure =
    state === 'failed' || state === 'cancelled' ? decodeJobFailure(job.failedReason) : undefined;
  const { data } = job;
  const common = {
    id: String(job.id),
    state,
    progress: state === 'completed' ? 1 : state === 'queued' ? 0 : Math.max(0, Math.min(1, p.progress)),
    stage: state === 'active' ? p.stage || null : null,
    durationSec: data.durationSec,
    priority: data.priority,
    attempts: job.attemptsMade,
    createdAt: data.createdAt,
    startedAt: job.processedOn ?? null,
    finishedAt: job.finishedOn ?? null,
    // Worker messages may quote ffmpeg, which names files: users never see a server path.
    error: failure ? { code: failure.code, message: withoutPaths(failure.message) } : null,
  };
  if (data.kind === 'clone')
    return {
      ...common,
      kind: 'clone',
      voiceId: data.voiceId,
      uploadId: data.voiceId,
      filename: data.voiceName,
      outputFormat: 'wav',
      pitchSemitones: 0,
      strength: null,
      model: data.model,
      resultUrl: null,
    };
  const unfinished = state === 'queued' || state === 'active';
  const partialSec = state === 'active' ? Math.max(0, p.partialSec ?? 0) : 0;
  return {
    ...common,
    kind: 'convert',
    voiceId: data.voiceId ?? null,
    uploadId: data.uploadId,
    filename: data.filename,
    outputFormat: data.outputFormat,
    pitchSemitones: data.pitchSemitones,
    strength: data.voiceId ? (data.strength ?? 1) : null,
    model: data.model ?? null,
    resultUrl: state === 'completed' && !data.resultGone ? `/api/jobs/${job.id}/result` : null,
    ...(state === 'completed' && data.resultGone ? { resultGone: data.resultGone } : {}),
    ...(unfinished
      ? { partialUrl: `/api/jobs/${job.id}/result?partial=1`, partialAvailable: partialSec > 0, partialSec }
      : {}),
  };
}
