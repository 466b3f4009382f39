import type { ConversionJobView } from '../queue/index.js';

/**
 * Everything the server pushes over the WebSocket: one discriminated union on `type`, shared by
 * the server, the page (web/app.js mirrors it) and the tests. `eventId` orders events and lets a
 * client ask for what it missed.
 */
export type JobEvent =
  | { type: 'progress'; jobId: string; progress: number; stage: string }
  | { type: 'completed'; jobId: string; resultUrl: string; realTimeFactor: number }
  | { type: 'failed'; jobId: string; error: { code: string; message: string } }
  | { type: 'cancelled'; jobId: string };

export type ServerMessage =
  | (JobEvent & { eventId: string })
  | { type: 'snapshot'; jobs: ConversionJobView[]; eventId: string }
  | { type: 'error'; error: string; message: string };

export function isFinalEvent(e: JobEvent): boolean {
  return e.type === 'completed' || e.type === 'failed' || e.type === 'cancelled';
}
