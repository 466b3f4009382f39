// The import-free module only: the page (web/src/lib/types.ts) imports these types.
import type { ConversionJobView, QueuePlace, ResultGone } from '../queue/conversion-job.js';

/**
 * What workers publish about a job: one discriminated union on `type`, written to the Redis
 * stream by `JobEventLog` and read back by every API instance's `ProgressHub`.
 */
export type JobEvent =
  /** `partialSec`: seconds of output written so far (the job's partialUrl plays them). */
  | { type: 'progress'; jobId: string; progress: number; stage: string; partialSec?: number }
  | { type: 'stage'; jobId: string; stage: string }
  /**
   * `startedAt`/`finishedAt`: the job view's (ms), so a live card says how long it took as a
   * reloaded one does; absent from events written before they were added.
   */
  | {
      type: 'completed';
      jobId: string;
      resultUrl: string;
      realTimeFactor: number;
      startedAt?: number;
      finishedAt?: number;
    }
  | { type: 'failed'; jobId: string; error: { code: string; message: string } }
  | { type: 'cancelled'; jobId: string }
  /**
   * A completed conversion's output removed (DELETE /api/jobs/:id/result, or the sweeper at the end
   * of its lifetime): every tab stops offering it and says why, as the job view's `resultGone` does.
   */
  | { type: 'resultGone'; jobId: string; why: ResultGone }
  /** A finished job removed for good (DELETE /api/jobs/:id/record): every tab drops its card. */
  | { type: 'removed'; jobId: string };

/**
 * Everything the server pushes over the WebSocket, shared by the server, the page (a type-only
 * import in web/src/lib/types.ts: a change here breaks the page's build) and the tests. `eventId` is the Redis stream id of the event: ids only grow, and a
 * client that reconnects sends the last one it saw to get what it missed. A snapshot's `eventId`
 * is the stream position it covers, so resuming from it misses nothing either.
 */
export type ServerMessage =
  | (JobEvent & { eventId: string })
  | { type: 'snapshot'; jobs: ConversionJobView[]; eventId: string }
  | QueueMessage
  | { type: 'error'; error: string; message: string };

/** The places of the user's queued jobs, sent only to a socket that asked (`queue: true`); state, not an event: no eventId. */
export type QueueMessage = { type: 'queue'; jobs: QueuePlace[] };

/**
 * What a client may send, once, as its first message when the token is not in the URL (with
 * `?token=` the stream starts at once; `?lastEventId=` then does what `resume` does). `auth`
 * starts with a snapshot; `resume` asks for every event after `lastEventId`, the highest id the
 * client saw, and gets a snapshot instead when those events are no longer kept. `queue: true`
 * asks for `{type: "queue"}` messages too: the places of the user's queued jobs (api/queue-watch).
 */
export type ClientMessage =
  | { type: 'auth'; token: string; lastEventId?: string; queue?: boolean }
  | { type: 'resume'; token: string; lastEventId: string; queue?: boolean };

export type FinalEvent = Extract<JobEvent, { type: 'completed' | 'failed' | 'cancelled' }>;

export function isFinalEvent(e: { type: string }): e is FinalEvent {
  return e.type === 'completed' || e.type === 'failed' || e.type === 'cancelled';
}

/** A Redis stream id, `<ms>-<seq>`. */
export const EVENT_ID_PATTERN = /^\d{1,16}-\d{1,16}$/;

/** Orders two stream ids (negative, zero, positive, like a sort comparator). */
export function compareEventIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  if (as.length !== bs.length) return as.length - bs.length;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** What a client knows about one job, built from snapshots and events by `applyServerMessage`. */
export type JobState = Pick<ConversionJobView, 'id' | 'state' | 'progress' | 'stage' | 'resultUrl' | 'error'>;

/**
 * Folds one server message into a client's view of its jobs. A finished job stays finished: an
 * older progress event (a replay, or one buffered behind a snapshot) never brings it back.
 * The page mirrors this function.
 */
export function applyServerMessage(jobs: Map<string, JobState>, msg: ServerMessage): void {
  if (msg.type === 'error' || msg.type === 'queue') return;
  if (msg.type === 'removed') {
    jobs.delete(msg.jobId);
    return;
  }
  if (msg.type === 'resultGone') {
    const known = jobs.get(msg.jobId);
    if (known) jobs.set(msg.jobId, { ...known, resultUrl: null });
    return;
  }
  if (msg.type === 'snapshot') {
    for (const j of msg.jobs) {
      const known = jobs.get(j.id);
      if (known && isFinalState(known.state) && !isFinalState(j.state)) continue;
      jobs.set(j.id, {
        id: j.id,
        state: j.state,
        progress: j.progress,
        stage: j.stage,
        resultUrl: j.resultUrl,
        error: j.error,
      });
    }
    return;
  }
  const job = jobs.get(msg.jobId) ?? {
    id: msg.jobId,
    state: 'queued',
    progress: 0,
    stage: null,
    resultUrl: null,
    error: null,
  };
  if (isFinalState(job.state)) return;
  switch (msg.type) {
    case 'progress':
      jobs.set(job.id, { ...job, state: 'active', progress: msg.progress, stage: msg.stage });
      break;
    case 'stage':
      jobs.set(job.id, { ...job, state: 'active', stage: msg.stage });
      break;
    case 'completed':
      jobs.set(job.id, { ...job, state: 'completed', progress: 1, stage: null, resultUrl: msg.resultUrl });
      break;
    case 'failed':
      jobs.set(job.id, { ...job, state: 'failed', stage: null, error: msg.error });
      break;
    case 'cancelled':
      jobs.set(job.id, { ...job, state: 'cancelled', stage: null });
      break;
  }
}

function isFinalState(state: string): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}
