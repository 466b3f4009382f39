/**
 * The API's shapes as the page uses them. The job view comes from src/queue itself; the rest
 * mirror the route schemas (src/api/workspace.ts, src/api/voices.ts) and the WebSocket union
 * (src/progress/events.ts), whose modules import Node code the page's type-check cannot read.
 */
import type { ConversionJobView, PublicJobState } from '../../../src/queue/conversion-job.js';

// The job view is the server's own type (a type-only import: nothing of src/ reaches the bundle).
export type JobStateName = PublicJobState;
export type JobView = ConversionJobView;

export type ServerMessage =
  | { type: 'snapshot'; jobs: JobView[]; eventId: string }
  | { type: 'progress'; jobId: string; progress: number; stage: string; partialSec?: number; eventId: string }
  | { type: 'stage'; jobId: string; stage: string; eventId: string }
  | { type: 'completed'; jobId: string; resultUrl: string; realTimeFactor: number; eventId: string }
  | { type: 'failed'; jobId: string; error: { code: string; message: string }; eventId: string }
  | { type: 'cancelled'; jobId: string; eventId: string }
  | { type: 'queue'; jobs: QueuePlace[] }
  | { type: 'error'; error: string; message: string };

/** Where a queued job stands (src/queue/queue-estimate.ts): 1 = next to start. */
export interface QueuePlace {
  jobId: string;
  position: number;
  etaSec: number | null;
}

export interface RateAllowance {
  max: number;
  windowSec: number;
  remaining: number | null;
  resetInSec: number | null;
}

export interface Workspace {
  plan: string;
  usage: { bytes: number; files: number; queuedJobs: number };
  quota: {
    maxBytes: number;
    maxFiles: number;
    maxUploadBytes: number;
    maxDurationSec: number;
    maxQueuedJobs: number;
  };
  rateLimits: Record<string, RateAllowance>;
}

export interface Upload {
  id: string;
  filename: string;
  bytes: number;
  durationSec: number;
}

export interface Voice {
  id: string;
  name: string;
  state: 'pending' | 'ready' | 'failed';
  error: { code: string; message: string } | null;
}

export interface Preset {
  id: string;
  name: string;
}
