import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/core.js';
import { CONVERSION_QUEUE, type QueuePlace } from './conversion-job.js';

export type { QueuePlace } from './conversion-job.js';

export interface Throughput {
  /** Jobs finished (completed or failed) per minute over the window. */
  perMin: number;
  windowSec: number;
  finished: number;
}

/** Windows tried in turn until one holds enough finished jobs to estimate from. */
const WINDOWS_SEC = [300, 900];
const MIN_FINISHED = 2;

/** How many jobs are ahead of a queued one and how long it should wait, rate from what finished lately. */
export function placeOf(jobId: string, position: number, throughput: Throughput): QueuePlace {
  const etaSec = throughput.perMin > 0 ? Math.ceil((position * 60) / throughput.perMin) : null;
  return { jobId, position, etaSec };
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

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = (name) => `${prefix}:${CONVERSION_QUEUE}:${name}`;
  }

  async throughput(nowMs = Date.now()): Promise<Throughput> {
    let finished = 0;
    let windowSec = WINDOWS_SEC[0];
    for (windowSec of WINDOWS_SEC) {
      const since = nowMs - windowSec * 1000;
      const [done, failed] = await Promise.all([
        this.redis.zcount(this.key('completed'), since, '+inf'),
        this.redis.zcount(this.key('failed'), since, '+inf'),
      ]);
      finished = done + failed;
      if (finished >= MIN_FINISHED) break;
    }
    const perMin = finished >= MIN_FINISHED ? finished / (windowSec / 60) : 0;
    return { perMin, windowSec, finished };
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

/** A pipeline's answers, null for each command that failed. */
async function answers(pipe: ChainableCommander): Promise<(number | null)[]> {
  return ((await pipe.exec()) ?? []).map(([err, v]) => (err ? null : v)) as (number | null)[];
}
