import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/core.js';
import { CONVERSION_QUEUE, type QueuePlace } from './conversion-job.js';

export type { QueuePlace } from './conversion-job.js';

export interface Throughput {
  /**
   * Jobs the workers get through per minute while they work: `slots` × 60 / `jobSec`. Idle time
   * does not count (it did: the rate was the jobs finished over the last 5 or 15 minutes, so two
   * jobs of a second each after an idle quarter of an hour made a wait of 150 s per place).
   */
  perMin: number;
  /** How far back the jobs measured go (s): from the oldest one's finish to now. */
  windowSec: number;
  /** Jobs measured (the newest completed ones, at most SAMPLE_JOBS, none older than SAMPLE_HORIZON_SEC). */
  finished: number;
  /** Their mean processing time (s), from start to finish; null with fewer than MIN_FINISHED. */
  jobSec: number | null;
  /**
   * Processing seconds per second of audio, over the jobs measured (their processing times summed
   * over their audio summed); null with fewer than MIN_FINISHED. A waiting job's work is its audio
   * length times this rate for its kind (voice, pitch, clone; all kinds where none of its kind was measured).
   */
  secPerAudioSec: number | null;
  /** Jobs that run at once: those running now, at least 1 (every waiting job waits for one of them). */
  slots: number;
  /** When each slot frees (s from now, ascending): the running jobs' remaining work; [0] when none runs. */
  freeInSec: number[];
  /**
   * The work (s) of each of the first LINE_JOBS waiting jobs, in the order they will start; a
   * job further back is taken to be their mean.
   */
  lineSec: number[];
}

/** What sets a job's speed: a voice conversion, a pitch shift alone, a voice's analysis. */
export type WorkClass = 'voice' | 'pitch' | 'clone';

/** A job's audio: its length (s, the probe's at upload) and what is done with it. */
export interface JobAudio {
  audioSec: number;
  workClass: WorkClass;
}

/** A completed job measured: its start and finish (ms) and its audio. */
export interface FinishedJob extends JobAudio {
  processedOn: number;
  finishedOn: number;
}

/** A job running now: when it started (ms), how far it is (0..1, its reported progress), its audio. */
export interface RunningJob extends JobAudio {
  processedOn: number;
  progress: number;
}

/** The newest completed jobs whose processing times make the estimate. */
const SAMPLE_JOBS = 20;
/** Jobs finished longer ago than this are not measured (the workers or their load may have changed). */
const SAMPLE_HORIZON_SEC = 3600;
const MIN_FINISHED = 2;
/**
 * Waiting jobs whose audio is read (the rest are taken as their mean): the cost does not grow with
 * the queue, and a caller with one waiting job in a long queue costs a few dozen commands.
 */
const LINE_JOBS = 20;
/** One reading of the rate serves every request and queue watch of an instance for this long. */
const RATE_TTL_MS = 1000;

/** Processing seconds per second of audio over `jobs`; null without audio measured. */
function rateOf(jobs: FinishedJob[]): number | null {
  const audio = jobs.reduce((n, j) => n + j.audioSec, 0);
  const work = jobs.reduce((n, j) => n + Math.max(0, j.finishedOn - j.processedOn) / 1000, 0);
  return audio > 0 ? work / audio : null;
}

/** A job's work (s): its audio times the rate for its kind (or all kinds'), else a typical job's time. */
function workSecOf(
  job: JobAudio,
  rates: Partial<Record<WorkClass, number>>,
  overall: number | null,
  jobSec: number,
): number {
  const rate = rates[job.workClass] ?? overall;
  return rate !== null && job.audioSec > 0 ? job.audioSec * rate : jobSec;
}

/**
 * A running job's remaining work (s): its time so far scaled by the share still to do; with no
 * progress yet, its expected work (or as long again as it ran, if longer).
 */
function remainingSec(job: RunningJob, workSec: number, nowMs: number): number {
  const ranSec = Math.max(0, nowMs - job.processedOn) / 1000;
  if (job.progress >= 1) return 0;
  if (job.progress > 0) return (ranSec * (1 - job.progress)) / job.progress;
  return Math.max(workSec, ranSec);
}

/**
 * The work rate from recent jobs' processing times and audio, the jobs running now and the
 * first waiting jobs (in the order they will start). Pure.
 */
export function workRate(
  samples: FinishedJob[],
  running: RunningJob[],
  nowMs: number,
  waiting: JobAudio[] = [],
): Throughput {
  const slots = Math.max(1, running.length);
  const times = samples.map((s) => Math.max(0, s.finishedOn - s.processedOn) / 1000);
  const oldest = samples.reduce((m, s) => Math.min(m, s.finishedOn), nowMs);
  const windowSec = Math.max(0, Math.round((nowMs - oldest) / 1000));
  if (times.length < MIN_FINISHED)
    return {
      perMin: 0,
      windowSec,
      finished: times.length,
      jobSec: null,
      secPerAudioSec: null,
      slots,
      freeInSec: [],
      lineSec: [],
    };
  // A job takes at least a millisecond: a rate is finite even for jobs timed at 0.
  const jobSec = Math.max(0.001, times.reduce((a, b) => a + b, 0) / times.length);
  const overall = rateOf(samples);
  const rates: Partial<Record<WorkClass, number>> = {};
  for (const cls of ['voice', 'pitch', 'clone'] as const) {
    const rate = rateOf(samples.filter((s) => s.workClass === cls));
    if (rate !== null) rates[cls] = rate;
  }
  const work = (job: JobAudio) => Math.max(0.001, workSecOf(job, rates, overall, jobSec));
  const freeInSec = running.length ? running.map((j) => remainingSec(j, work(j), nowMs)) : [0];
  freeInSec.sort((a, b) => a - b);
  return {
    perMin: (slots * 60) / jobSec,
    windowSec,
    finished: times.length,
    jobSec,
    secPerAudioSec: overall,
    slots,
    freeInSec,
    lineSec: waiting.map(work),
  };
}

/**
 * How many jobs are ahead of a queued one and how long it should wait: until a slot frees for it.
 * Slots free as the running jobs end; each then takes the next waiting job for that job's work
 * (its audio length times the measured rate), so the job at `position` starts at the
 * `position`-th time a slot frees.
 */
export function placeOf(jobId: string, position: number, throughput: Throughput): QueuePlace {
  const { jobSec, freeInSec, lineSec } = throughput;
  if (jobSec === null || freeInSec.length === 0) return { jobId, position, etaSec: null };
  const meanSec = lineSec.length ? lineSec.reduce((a, b) => a + b, 0) / lineSec.length : jobSec;
  const free = [...freeInSec];
  let start = 0;
  for (let i = 0; i < position; i++) {
    start = free.shift() ?? 0;
    const next = start + (lineSec[i] ?? meanSec);
    const at = free.findIndex((t) => t > next);
    free.splice(at < 0 ? free.length : at, 0, next);
  }
  // Rounded to the millisecond first (the times are measured in ms): a sum of a hundred equal works
  // can land a hair above a whole second, and ceil then added a second (122.00000000001 -> 123).
  return { jobId, position, etaSec: Math.ceil(Math.round(start * 1000) / 1000) };
}

/**
 * Queue positions and waits, read from BullMQ's own keys (level-triggered: every answer is
 * computed from the queue as it is now). BullMQ hands out jobs without a priority (the `wait`
 * list, taken from its right end) before the prioritized set (lowest score first), so a job's
 * position is the waiting list's length plus its rank in the set. A job put back for a while
 * (its user at the active cap: BullMQ's `delayed` set) has no position.
 */
export class QueueEstimator {
  private readonly key: (name: string) => string;
  private rate: { at: number; value: Promise<Throughput> } | undefined;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = (name) => `${prefix}:${CONVERSION_QUEUE}:${name}`;
  }

  /**
   * The work rate: the newest SAMPLE_JOBS completed jobs' processing times (BullMQ's
   * `processedOn` and `finishedOn`) and audio, the jobs running now with their progress, and the
   * audio of the first LINE_JOBS waiting jobs: two round trips, one HMGET per job read. Read at
   * most once per RATE_TTL_MS per instance, however many sockets watch the queue.
   */
  throughput(nowMs = Date.now()): Promise<Throughput> {
    if (this.rate && nowMs - this.rate.at < RATE_TTL_MS) return this.rate.value;
    const value = this.readRate(nowMs);
    this.rate = { at: nowMs, value };
    value.catch(() => {
      if (this.rate?.value === value) this.rate = undefined;
    });
    return value;
  }

  private async readRate(nowMs: number): Promise<Throughput> {
    const since = nowMs - SAMPLE_HORIZON_SEC * 1000;
    const [ids, active, plain, prioritized] = await Promise.all([
      this.redis.zrevrangebyscore(this.key('completed'), '+inf', since, 'LIMIT', 0, SAMPLE_JOBS),
      // As many as there are worker threads: the active list holds the jobs running now.
      this.redis.lrange(this.key('active'), 0, -1),
      // The order jobs start in: the plain wait list from its right end, then the prioritized set.
      this.redis.lrange(this.key('wait'), -LINE_JOBS, -1),
      this.redis.zrange(this.key('prioritized'), 0, LINE_JOBS - 1),
    ]);
    const line = [...plain.reverse(), ...prioritized].slice(0, LINE_JOBS);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.key(id), 'processedOn', 'data', 'finishedOn');
    for (const id of active) pipe.hmget(this.key(id), 'processedOn', 'data', 'progress');
    for (const id of line) pipe.hmget(this.key(id), 'data');
    const count = ids.length + active.length + line.length;
    const fields = count ? ((await pipe.exec()) ?? []) : [];
    const values = fields.map(([err, v]) => (err ? [] : (v as (string | null)[])));
    const samples = values.slice(0, ids.length).flatMap(([started, data, finished]) => {
      const [processedOn, finishedOn] = [Number(started), Number(finished)];
      return processedOn > 0 && finishedOn > 0 ? [{ processedOn, finishedOn, ...audioOf(data) }] : [];
    });
    const running = values
      .slice(ids.length, ids.length + active.length)
      .flatMap(([started, data, progress]) => {
        const processedOn = Number(started);
        return processedOn > 0 ? [{ processedOn, progress: progressShare(progress), ...audioOf(data) }] : [];
      });
    const waiting = values.slice(ids.length + active.length).map(([data]) => audioOf(data));
    return workRate(samples, running, nowMs, waiting);
  }

  /**
   * The places of those of `jobIds` that wait in the queue now; the others are left out. Two
   * round trips whatever the queue's length: ZRANK in the prioritized set (O(log N) each, where
   * every job with a priority waits), then LPOS in the plain wait list only for the ids not found
   * there (in practice none: every job vcfarm adds has a priority). No job hash is read.
   */
  async places(jobIds: string[], throughput?: Throughput): Promise<QueuePlace[]> {
    if (jobIds.length === 0) return [];
    const rate = throughput ?? (await this.throughput());
    const waitKey = this.key('wait');
    const ranks = this.redis.pipeline().llen(waitKey);
    for (const id of jobIds) ranks.zrank(this.key('prioritized'), id);
    const [waiting, ...rank] = await answers(ranks);
    const unranked = jobIds.filter((_, i) => typeof rank[i] !== 'number');
    const lpos = this.redis.pipeline();
    for (const id of unranked) lpos.lpos(waitKey, id);
    const index = new Map(unranked.length ? (await answers(lpos)).map((v, i) => [unranked[i], v]) : []);
    const places: QueuePlace[] = [];
    jobIds.forEach((id, i) => {
      const r = rank[i];
      const at = index.get(id);
      if (typeof r === 'number') places.push(placeOf(id, (waiting ?? 0) + r + 1, rate));
      else if (typeof at === 'number') places.push(placeOf(id, (waiting ?? 0) - at, rate));
    });
    return places;
  }
}

/** A job's audio from its stored data (`durationSec`, the probe's; 0 when unreadable). */
function audioOf(raw: string | null | undefined): JobAudio {
  try {
    const data = JSON.parse(raw ?? '{}') as { kind?: string; voiceId?: string | null; durationSec?: unknown };
    const audioSec = Number(data.durationSec);
    const workClass: WorkClass = data.kind === 'clone' ? 'clone' : data.voiceId ? 'voice' : 'pitch';
    return { audioSec: Number.isFinite(audioSec) && audioSec > 0 ? audioSec : 0, workClass };
  } catch {
    return { audioSec: 0, workClass: 'pitch' };
  }
}

/** A job's stored progress (a number, or vcfarm's `{progress, stage, ...}`) as a share 0..1. */
function progressShare(raw: string | null | undefined): number {
  try {
    const v: unknown = JSON.parse(raw ?? '0');
    const p = typeof v === 'number' ? v : Number((v as { progress?: unknown } | null)?.progress ?? 0);
    return Number.isFinite(p) ? Math.max(0, Math.min(1, p)) : 0;
  } catch {
    return 0;
  }
}

/** A pipeline's answers, null for each command that failed. */
async function answers(pipe: ChainableCommander): Promise<(number | null)[]> {
  return ((await pipe.exec()) ?? []).map(([err, v]) => (err ? null : v)) as (number | null)[];
}
