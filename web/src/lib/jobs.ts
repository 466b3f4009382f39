import type { JobView, ServerMessage, Voice } from './types.js';

export const FINAL = new Set(['completed', 'failed', 'cancelled']);

export type Jobs = ReadonlyMap<string, JobView>;

/** Stream ids `<ms>-<seq>`, compared as numbers: true when `a` is newer than `b`. */
export function newerId(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am > bm : as > bs;
}

/** Puts a job view in, unless it would reopen a finished job (answers and events race). */
export function putJob(jobs: Jobs, job: JobView): Jobs {
  const known = jobs.get(job.id);
  if (known && FINAL.has(known.state) && !FINAL.has(job.state)) return jobs;
  const next = new Map(jobs);
  if (!known) {
    next.set(job.id, job);
    return next;
  }
  // A view without a link keeps the one known, unless it says the result is gone.
  const resultUrl = job.resultGone
    ? null
    : steadyLink(known.resultUrl, job.resultUrl ?? known.resultUrl ?? null);
  const links = {
    resultUrl,
    sourceUrl: steadyLink(known.sourceUrl, job.sourceUrl ?? known.sourceUrl),
    partialUrl: steadyLink(known.partialUrl, job.partialUrl ?? known.partialUrl),
  };
  next.set(job.id, { ...known, ...job, ...links });
  return next;
}

/** A signed link without its expiry and signature: what it points at. */
function linkTarget(url: string): string {
  const u = new URL(url, 'http://page');
  u.searchParams.delete('exp');
  u.searchParams.delete('sig');
  return `${u.pathname}?${u.searchParams}`;
}

/** When a signed link expires (its `exp`, Unix seconds), or undefined when it has none. */
function linkExpiry(url: string): number | undefined {
  const exp = Number(new URL(url, 'http://page').searchParams.get('exp'));
  return Number.isFinite(exp) && exp > 0 ? exp : undefined;
}

/**
 * The link a card (and its players) keeps: every view the API sends signs its links afresh, and
 * a new `src` makes each player fetch again, the detail's waveforms redraw and a playing one stop
 * at 0 (a filter change or *Show older jobs* re-reads the list). So the known link stays while it
 * points at the same file and has at least half the life of the fresh one left; then the fresh one
 * replaces it, long before it expires.
 */
export function steadyLink<T extends string | null | undefined>(
  known: string | null | undefined,
  fresh: T,
): T {
  if (!known || !fresh || known === fresh) return fresh;
  const [k, f] = [linkExpiry(known), linkExpiry(fresh)];
  if (k === undefined || f === undefined || linkTarget(known) !== linkTarget(fresh)) return fresh;
  const now = Date.now() / 1000;
  return (k - now >= (f - now) / 2 ? known : fresh) as T;
}

/**
 * Folds one server message into the page's jobs, as applyServerMessage in src/progress/events.ts:
 * a finished job stays finished. Snapshots and `completed` carry signed result links. Events
 * for jobs the page does not know yet are left to the caller: `needsView` names them.
 */
export function applyMessage(
  jobs: Jobs,
  msg: ServerMessage,
  /** Oldest job of the pages loaded so far: older ones a snapshot names wait for "Show older jobs". */
  pagedSince?: number,
): { jobs: Jobs; needsView?: string } {
  if (msg.type === 'snapshot') {
    let next = jobs;
    for (const job of msg.jobs) {
      const older = pagedSince !== undefined && job.createdAt < pagedSince && !jobs.has(job.id);
      if (!older) next = putJob(next, job);
    }
    return { jobs: next };
  }
  if (msg.type === 'error' || msg.type === 'queue') return { jobs };
  if (msg.type === 'removed') {
    if (!jobs.has(msg.jobId)) return { jobs };
    const next = new Map(jobs);
    next.delete(msg.jobId);
    return { jobs: next };
  }
  const known = jobs.get(msg.jobId);
  if (msg.type === 'resultGone') {
    // Deleted in another tab (or this one), or expired: the card stops offering it and says why.
    if (!known) return { jobs };
    return { jobs: putJob(jobs, { ...known, resultUrl: null, resultGone: msg.why }) };
  }
  if (known && FINAL.has(known.state)) return { jobs };
  if (!known) return { jobs, needsView: msg.jobId };
  switch (msg.type) {
    case 'progress': {
      // partialSec > 0: the part converted so far plays from the job's partialUrl.
      const partial = msg.partialSec ? { partialSec: msg.partialSec, partialAvailable: true } : {};
      return {
        jobs: putJob(jobs, {
          ...known,
          state: 'active',
          progress: msg.progress,
          stage: msg.stage,
          ...partial,
        }),
      };
    }
    case 'stage':
      return { jobs: putJob(jobs, { ...known, state: 'active', stage: msg.stage }) };
    case 'completed': {
      // How long it took, as a reloaded card says it (events before these fields leave it unsaid).
      const times = {
        startedAt: msg.startedAt ?? known.startedAt,
        finishedAt: msg.finishedAt ?? known.finishedAt,
      };
      return {
        jobs: putJob(jobs, { ...known, ...times, state: 'completed', progress: 1, resultUrl: msg.resultUrl }),
      };
    }
    case 'failed':
      return { jobs: putJob(jobs, { ...known, state: 'failed', error: msg.error }) };
    case 'cancelled':
      return { jobs: putJob(jobs, { ...known, state: 'cancelled' }) };
  }
}

/** Newest first. */
export function sortedJobs(jobs: Jobs): JobView[] {
  return [...jobs.values()].sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * Who cancelled a job, as its card says it: the job's error message names its user or an operator
 * (the service's cancelMessage), which this page's user reads as "you". Until the view that says
 * so has come (a live event says only "cancelled"), the card says just that.
 */
export function cancelledText(job: JobView): string {
  const message = job.error?.message ?? '';
  if (/\bby the user\b/.test(message)) return 'cancelled by you';
  if (/\bby an operator\b/.test(message)) return 'cancelled by an operator';
  return 'cancelled';
}

/** A card's state line. */
export function stateText(job: JobView): string {
  const pct = Math.round((job.progress || 0) * 100);
  if (job.state === 'cancelled') return cancelledText(job);
  if (job.kind === 'clone') {
    if (job.state === 'completed') return 'ready';
    if (job.state === 'failed') return `failed: ${job.error?.message || 'analysis failed'}`;
    return job.state === 'active' ? `analysing ${pct}%` : 'waiting to be analysed';
  }
  if (job.state === 'active') return `${job.stage || 'converting'} ${pct}%`;
  if (job.state === 'failed') return `failed: ${job.error?.message || 'unknown error'}`;
  return job.state;
}

/** The status line under the conversion form while it follows `job`. */
export function conversionStatus(job: JobView): { text: string; error: boolean } {
  const text = {
    queued: `${job.filename}: queued.`,
    active: `${job.filename}: ${stateText(job)}.`,
    completed: `${job.filename}: converted; the result is below.`,
    failed: `${job.filename}: ${stateText(job)}`,
    cancelled: `${job.filename}: ${cancelledText(job)}.`,
  }[job.state];
  return { text, error: job.state === 'failed' };
}

/** The status line under the clone form while it follows the clone `job` of voice `name`. */
export function cloneStatus(job: JobView, name: string): { text: string; error: boolean } {
  const text = {
    queued: `Analysing "${name}"…`,
    active: `Analysing "${name}"…`,
    completed: `Voice "${name}" is ready: pick it as the target voice.`,
    failed: `Voice "${name}" failed: ${job.error?.message || 'analysis failed'}`,
    cancelled: `Voice "${name}" was cancelled.`,
  }[job.state];
  return { text, error: job.state === 'failed' };
}

/**
 * The voices as their clone jobs now stand: a pending voice whose analysis the page has seen end
 * is ready (or failed, with the job's error), as GET /api/voices would answer, without asking it.
 */
export function voicesAsJobsStand(voices: readonly Voice[], jobs: Jobs): Voice[] {
  return voices.map((v) => {
    const job = v.state === 'pending' && v.jobId ? jobs.get(v.jobId) : undefined;
    if (!job || !FINAL.has(job.state)) return v;
    if (job.state === 'completed') return { ...v, state: 'ready', error: null };
    return { ...v, state: 'failed', error: job.error ?? null };
  });
}
