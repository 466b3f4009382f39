/**
 * The API's shapes as the page uses them. The job view, the queue places and the WebSocket
 * messages are the server's own types (type-only imports of modules that import nothing: no code
 * of src/ reaches the bundle, and a change on the server breaks the page's build); the rest mirror
 * the route schemas (src/api/workspace.ts, src/api/voices.ts).
 */
import type { ConversionJobView, PublicJobState, QueuePlace } from '../../../src/queue/conversion-job.js';

export type { ClientMessage, ServerMessage } from '../../../src/progress/events.js';
export type { QueuePlace };
export type JobStateName = PublicJobState;
export type JobView = ConversionJobView;

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
  /** Every file the workspace holds (uploads, voices' references, results), read from disk. */
  files: WorkspaceFile[];
}

export interface WorkspaceFile {
  kind: 'upload' | 'voice' | 'output';
  /** The upload's, voice's or job's id (an output's with its extension). */
  name: string;
  /** An upload's file name as sent; null for voices and outputs. */
  filename: string | null;
  bytes: number;
  ageSec: number;
  /** Seconds until the sweeper may remove it. */
  expiresInSec: number;
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
  /** The clone job that analyses its recording (its state is the voice's). */
  jobId: string | null;
  /** Its reference recording, a signed link (GET /api/voices/:id/preview). */
  previewUrl: string;
  /** The model folder it was analysed for (a job with it names that model). */
  model: string;
}

export interface Preset {
  id: string;
  /** Its file name in the model folder. */
  name: string;
  /** A human name ("Clara"), from the preset file (the file name when it gives none). */
  displayName: string;
  /** One line on how it sounds, from the preset file; null when it gives none. */
  description: string | null;
  model: string;
  /** Median pitch of the voice, Hz (null when unknown). */
  f0Median: number | null;
  /** A few seconds of speech in this voice, a signed link; null until its preview is built. */
  previewUrl: string | null;
}

/** The model a job uses when it names none (src/models' DEFAULT_MODEL). */
export const DEFAULT_MODEL = 'default';

/**
 * A preset's key on the page (its option value in the voice picker): presets are keyed by
 * (model, id), as two models may have a preset of one id. The default model's keep their bare id
 * (the value earlier pages used); another model's are "model/id" (model names have no "/").
 */
export function presetKey(p: { id: string; model: string }): string {
  return p.model === DEFAULT_MODEL ? p.id : `${p.model}/${p.id}`;
}
