import type { RedisClient } from '../redis/core.js';
import { isFinalEvent, type JobEvent } from './events.js';

/**
 * Bounded, so the stream cannot grow without end (`MAXLEN ~`: Redis trims whole nodes, so a
 * little more may be kept). A client that comes back after its events were trimmed gets a
 * snapshot instead of a replay.
 */
export const MAX_EVENTS = 50_000;

export function eventStreamKey(prefix: string): string {
  return `${prefix}:events`;
}

/**
 * The write side of the job event stream: one Redis stream for the whole service. Any process
 * may publish; every API instance reads it once and routes events to its sockets.
 *
 * A `progress` event whose stage differs from the last one this log published for the job is
 * preceded by a `stage` event, so clients see stage changes as events of their own. A job runs
 * in one process at a time, so the per-process memory of stages is enough.
 */
export class JobEventLog {
  private readonly key: string;
  private readonly stages = new Map<string, string>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = eventStreamKey(prefix);
  }

  /** Appends the event; resolves its stream id (the `eventId` clients see). */
  async publish(userId: string, event: JobEvent): Promise<string> {
    if (event.type === 'progress' && this.stages.get(event.jobId) !== event.stage) {
      this.stages.set(event.jobId, event.stage);
      const res = await this.redis
        .multi()
        .xadd(...this.entry(userId, { type: 'stage', jobId: event.jobId, stage: event.stage }))
        .xadd(...this.entry(userId, event))
        .exec();
      const err = res?.find(([e]) => e)?.[0];
      if (err) throw err;
      return String(res?.[1]?.[1] ?? '');
    }
    if (isFinalEvent(event)) this.stages.delete(event.jobId);
    else if (event.type === 'stage') this.stages.set(event.jobId, event.stage);
    return (await this.redis.xadd(...this.entry(userId, event))) ?? '';
  }

  private entry(userId: string, event: JobEvent): [string, 'MAXLEN', '~', number, '*', ...string[]] {
    return [this.key, 'MAXLEN', '~', MAX_EVENTS, '*', 'u', userId, 'e', JSON.stringify(event)];
  }
}
