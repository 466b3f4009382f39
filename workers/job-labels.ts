import type { Job } from 'bullmq';
import type { JobKind } from '../src/metrics/core.js';
import { DEFAULT_MODEL } from '../src/models/core.js';
import type { ConversionJobData } from '../src/queue/core.js';

/** What a job does, as metrics and logs name it: a voice clone, a voice conversion, or a pitch shift only. */
export function jobKind(data: ConversionJobData): JobKind {
  if (data.kind === 'clone') return 'clone';
  return data.voiceId ? 'voice' : 'pitch';
}

/** The model label: the model folder (bounded by MODELS_DIR), `none` for a pitch shift. */
export function jobModel(data: ConversionJobData): string {
  return jobKind(data) === 'pitch' ? 'none' : (data.model ?? DEFAULT_MODEL);
}

/**
 * Fields on every worker log line about a job, so `grep <jobId>` follows a job's whole story
 * (the API's lines carry the same requestId).
 */
export function jobLogFields(job: Job<ConversionJobData>): {
  jobId: string;
  userId: string;
  kind: JobKind;
  requestId?: string;
} {
  const { data } = job;
  return { jobId: String(job.id), userId: data.userId, kind: jobKind(data), requestId: data.requestId };
}
