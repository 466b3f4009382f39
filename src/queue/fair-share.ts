import { DelayedError, type Job } from 'bullmq';
import { TooManyJobsError } from '../errors/index.js';
import { type RedisClient, redisScript } from '../redis/core.js';
import { CONVERSION_QUEUE, type JobPriority } from './conversion-job.js';

/** BullMQ's largest priority (2^21 - 1); lower numbers run first. */
export const MAX_BULL_PRIORITY = 2_097_151;
/** Priority distance between a user's n-th and (n+1)-th waiting job. */
export const FAIR_SHARE_STEP = 10;
/** A job's own priority moves it within one step, never past another user's next job. */
export const JOB_PRIORITY_OFFSET: Record<JobPriority, number> = { high: 0, normal: 3, low: 6 };
/** How long a job that found its user at the active cap waits before it is offered again. */
export const ACTIVE_CAP_RETRY_MS = 250;
/** Admitted entries younger than this are never pruned: their BullMQ job may still be being added. */
const ADMIT_GRACE_MS = 60_000;
const KEY_TTL_MS = 7 * 24 * 3600 * 1000;

const RANK: Record<JobPriority, number> = { high: 0, normal: 1, low: 2 };

/** The requested priority, lowered to the best one the plan allows. */
export function allowedPriority(requested: JobPriority, best: JobPriority): JobPriority {
  return RANK[requested] < RANK[best] ? best : requested;
}

/** What a job's fair-share priority starts from: its plan's base + its own priority's offset. */
export function fairBase(planBase: number, priority: JobPriority): number {
  return planBase + JOB_PRIORITY_OFFSET[priority];
}

/** planBase + job offset + n × step, where n is how many of the user's jobs wait ahead of this one. */
export function fairPriority(planBase: number, priority: JobPriority, waitingAhead: number): number {
  return Math.min(MAX_BULL_PRIORITY, fairBase(planBase, priority) + waitingAhead * FAIR_SHARE_STEP);
}

/** BullMQ's prioritized zset scores a job as priority × 2^32 + its insertion counter. */
const PRIORITY_SCORE_SHIFT = 2 ** 32;

// settle(waiting, bases, prioritized, priority counter, job key prefix): gives the user's waiting
// jobs that have a fair-share base (their plan's base + the job's offset) the priority
// base + rank × step, rank counting them oldest first (the waiting zset's score is the creation
// time). A job in BullMQ's prioritized zset is re-scored there as BullMQ's changePriority does (a
// new insertion counter: among equal priorities the user whose job just started goes last, which
// is what makes it round-robin); a delayed one (put back at the active cap) takes the hash's
// priority when it returns. Level-triggered: everything is re-read from Redis, so any run leaves
// the right numbers.
const SETTLE_LUA = `
local function settle(waitingKey, basesKey, prioritizedKey, counterKey, jobPrefix)
  local rank = 0
  for _, id in ipairs(redis.call('ZRANGE', waitingKey, 0, -1)) do
    local base = redis.call('HGET', basesKey, id)
    if base then
      local want = math.min(tonumber(base) + rank * ${FAIR_SHARE_STEP}, ${MAX_BULL_PRIORITY})
      rank = rank + 1
      local jobKey = jobPrefix .. id
      local have = redis.call('HGET', jobKey, 'priority')
      if have and tonumber(have) ~= want then
        redis.call('HSET', jobKey, 'priority', want)
        if redis.call('ZSCORE', prioritizedKey, id) then
          local counter = redis.call('INCR', counterKey) % ${PRIORITY_SCORE_SHIFT}
          redis.call('ZADD', prioritizedKey, want * ${PRIORITY_SCORE_SHIFT} + counter, id)
        end
      end
    end
  end
end
`;

// KEYS[1] waiting zset, KEYS[2] bases hash, KEYS[3] (optional) the user's job index. ARGV: jobId,
// now, maxQueued, job key prefix, grace ms, ttl ms, index ttl s, base ('' for none). Prunes
// entries whose BullMQ job is gone (older than the grace), then admits if under the cap, records
// the job's base and indexes the admitted job: one round trip. Returns {admitted, n waiting,
// rank among the waiting jobs with a base}.
const ADMIT = redisScript(
  'vcfarmFairAdmit',
  `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[5]))
for _, id in ipairs(members) do
  if redis.call('EXISTS', ARGV[4] .. id) == 0 then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[3]) then return {0, n, 0} end
local rank = redis.call('HLEN', KEYS[2])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[8])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
if KEYS[3] then
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
return {1, n, rank}
`,
);

// KEYS[1] waiting, KEYS[2] active, KEYS[3] bases, KEYS[4] BullMQ's prioritized zset, KEYS[5] its
// priority counter. ARGV: jobId, now, maxActive, job key prefix, ttl ms. Entries of jobs whose
// BullMQ lock is gone (finished, or their worker died) are pruned first. A job over the cap goes
// back to the waiting set with its creation time (its place among the user's jobs is kept) and 0 is
// returned. A job let in gets its slot and, as BullMQ's processedOn, the moment it got it (Redis's
// clock, read after every slot it could follow was freed): BullMQ stamps processedOn when a worker
// picks the job up, before this check, so a job that waited for a slot would otherwise seem to
// have started while the job before it still ran. Returns that moment (ms). The user's other
// waiting jobs move up.
const START = redisScript(
  'vcfarmFairStart',
  `${SETTLE_LUA}
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local jobKey = ARGV[4] .. ARGV[1]
local created = redis.call('ZSCORE', KEYS[1], ARGV[1]) or ARGV[2]
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('HSET', jobKey, 'processedOn', now)
  return now
end
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(members) do
  if redis.call('EXISTS', ARGV[4] .. id .. ':lock') == 0 then redis.call('ZREM', KEYS[2], id) end
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], created, ARGV[1])
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('HSET', jobKey, 'processedOn', now)
settle(KEYS[1], KEYS[3], KEYS[4], KEYS[5], ARGV[4])
return now
`,
);

// KEYS[1] waiting, KEYS[2] bases, KEYS[3] BullMQ's prioritized zset, KEYS[4] its priority
// counter. ARGV: job key prefix, jobId
// ('' for none): the job (if any) leaves the waiting set without running, and the user's waiting
// jobs get the priorities their places give them.
const SETTLE = redisScript(
  'vcfarmFairSettle',
  `${SETTLE_LUA}
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('HDEL', KEYS[2], ARGV[2])
end
settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1])
return 1
`,
);

/**
 * Fair share on top of BullMQ priorities (the OSS edition has no groups). Two parts:
 * - ordering: a job's priority grows with the number of the same user's jobs waiting ahead of it
 *   (oldest first), so the waiting jobs of all users interleave round-robin and each user's run in
 *   the order they came; a new user's first job goes ahead of every job a backlogged user has
 *   beyond its first. The numbers follow the backlog: whenever a user's job starts or leaves the
 *   queue, that user's waiting jobs are given the priorities of their new places (one script);
 * - a cap on each user's running jobs: a worker that picks a job over the cap puts it back
 *   (delayed by ACTIVE_CAP_RETRY_MS) and takes the next one.
 * Per user, Redis holds a zset of waiting job ids (by creation time: for n and the queued-jobs
 * quota), a hash of their bases, and a zset of active job ids; they heal themselves from BullMQ's
 * own keys, so a crash leaves no drift.
 */
export class FairShare {
  private readonly jobKeyPrefix: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.jobKeyPrefix = `${prefix}:${CONVERSION_QUEUE}:`;
  }

  /**
   * Admits a new job of the user: returns how many of the user's jobs with a base wait already
   * (the job's place, for its first priority). Throws TooManyJobsError when the user's waiting
   * jobs are the plan's maxQueuedJobs. With `index`, an admitted job is also added to that zset
   * (the user's job index) in the same script. `base` (fairBase) makes the job one whose priority
   * follows its place; without it (a clone) it is only counted.
   */
  async admit(
    userId: string,
    jobId: string,
    maxQueued: number,
    index?: { key: string; createdAt: number; ttlSec: number },
    base?: number,
  ): Promise<number> {
    const own = [this.waitingKey(userId), this.basesKey(userId)];
    const keys = index ? [...own, index.key] : own;
    const [ok, n, rank] = (await ADMIT(this.redis, keys, [
      jobId,
      index?.createdAt ?? Date.now(),
      maxQueued,
      this.jobKeyPrefix,
      ADMIT_GRACE_MS,
      KEY_TTL_MS,
      index?.ttlSec ?? 0,
      base ?? '',
    ])) as [number, number, number];
    if (!ok)
      throw new TooManyJobsError(
        `${jobs(n)} ${n === 1 ? 'is' : 'are'} queued; the plan allows ${jobs(maxQueued)} queued at a time (usage ${n}/${maxQueued})`,
      );
    return rank;
  }

  /**
   * The job (if given) left the waiting set without running (cancelled, or never added); the
   * user's waiting jobs get the priorities of their places (also run after a job is added).
   */
  async settle(userId: string, jobId?: string): Promise<void> {
    await SETTLE(
      this.redis,
      [this.waitingKey(userId), this.basesKey(userId), this.prioritizedKey(), this.counterKey()],
      [this.jobKeyPrefix, jobId ?? ''],
    );
  }

  /** Ids of the user's jobs that wait or run. */
  async unfinished(userId: string): Promise<string[]> {
    const [waiting, active] = await Promise.all([
      this.redis.zrange(this.waitingKey(userId), 0, -1),
      this.redis.zrange(this.activeKey(userId), 0, -1),
    ]);
    return [...new Set([...waiting, ...active])];
  }

  /** Ids of the user's jobs waiting to start (or put back for a while at the active cap). */
  async waiting(userId: string): Promise<string[]> {
    return this.redis.zrange(this.waitingKey(userId), 0, -1);
  }

  /** Jobs of the user waiting to start. */
  async queuedCount(userId: string): Promise<number> {
    return this.redis.zcard(this.waitingKey(userId));
  }

  /**
   * Worker side: the moment (ms, Redis's clock) the job got a slot under its user's active cap,
   * also written as its BullMQ processedOn; null if the user is at the cap.
   */
  async start(userId: string, jobId: string, maxActive: number): Promise<number | null> {
    const grantedAt = await START(
      this.redis,
      [
        this.waitingKey(userId),
        this.activeKey(userId),
        this.basesKey(userId),
        this.prioritizedKey(),
        this.counterKey(),
      ],
      [jobId, Date.now(), maxActive, this.jobKeyPrefix, KEY_TTL_MS],
    );
    return Number(grantedAt) > 0 ? Number(grantedAt) : null;
  }

  /** Frees the job's slot under its user's active cap (nothing if it held none). */
  async finish(userId: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.activeKey(userId), jobId);
  }

  /** Forgets a removed user. */
  async forget(userId: string): Promise<void> {
    await this.redis.del(this.waitingKey(userId), this.activeKey(userId), this.basesKey(userId));
  }

  private waitingKey(userId: string): string {
    return `${this.prefix}:fair:${userId}:waiting`;
  }
  private activeKey(userId: string): string {
    return `${this.prefix}:fair:${userId}:active`;
  }
  private basesKey(userId: string): string {
    return `${this.prefix}:fair:${userId}:bases`;
  }
  /** BullMQ's zset of waiting jobs with a priority. */
  private prioritizedKey(): string {
    return `${this.jobKeyPrefix}prioritized`;
  }
  /** BullMQ's counter that orders jobs of equal priority. */
  private counterKey(): string {
    return `${this.jobKeyPrefix}pc`;
  }
}

interface FairJobData {
  userId: string;
  maxActiveJobs?: number;
}

/**
 * Wraps a BullMQ processor with the worker side of fair share: a job over its user's active
 * cap goes back to the queue (delayed briefly, priority kept) and the worker takes another. A job
 * let in runs with its processedOn set to the moment it got its slot. The slot is freed by
 * releaseSlotsWhenRecorded, once BullMQ has recorded the job's end, never before.
 */
export function withFairShare<D extends FairJobData, R>(
  fair: FairShare,
  processor: (job: Job<D, R>, token?: string) => Promise<R>,
): (job: Job<D, R>, token?: string) => Promise<R> {
  return async (job, token) => {
    const cap = job.data.maxActiveJobs ?? Number.MAX_SAFE_INTEGER;
    const grantedAt = await fair.start(job.data.userId, String(job.id), cap);
    if (grantedAt === null) {
      await job.moveToDelayed(Date.now() + ACTIVE_CAP_RETRY_MS, token);
      throw new DelayedError();
    }
    // What the completed event reports, as the job's view does (BullMQ read it before the check).
    job.processedOn = grantedAt;
    return processor(job, token);
  };
}

/** The events a set of BullMQ workers emits once a job's end (or failed attempt) is recorded. */
interface FinishedEvents<D> {
  on(event: 'completed', listener: (job: Job<D>) => void): unknown;
  on(event: 'failed', listener: (job: Job<D> | undefined) => void): unknown;
}

/**
 * Frees a job's slot under its user's active cap when its end (or a failed attempt) has been
 * recorded: its finishedOn is then earlier than the start of any job that takes the slot, so a
 * capped user's jobs never seem to overlap. Freeing it in the processor, before BullMQ wrote the
 * end, let the next job start first. A worker that dies holding a slot loses its job's lock,
 * and the next start prunes the slot (START above).
 */
export function releaseSlotsWhenRecorded<D extends FairJobData>(
  fair: FairShare,
  workers: FinishedEvents<D>,
  onError: (err: unknown) => void,
): void {
  const release = (job: Job<D> | undefined) => {
    if (job) fair.finish(job.data.userId, String(job.id)).catch(onError);
  };
  workers.on('completed', release);
  workers.on('failed', release);
}

/** "1 job", "3 jobs". */
function jobs(n: number): string {
  return `${n} ${n === 1 ? 'job' : 'jobs'}`;
}
