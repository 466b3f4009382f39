import type { Redis } from 'ioredis';
import type { JobEvent } from './events.js';

/** Bounded, so the stream cannot grow without end; old events are covered by snapshots. */
const MAX_EVENTS = 50_000;

export function eventStreamKey(prefix: string): string {
  return `${prefix}:events`;
}

/**
 * The write side of the job event stream: one Redis stream for the whole service. Any process
 * may publish; every API instance reads it once and routes events to its sockets.
 */
export class JobEventLog {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = eventStreamKey(prefix);
  }

  async publish(userId: string, event: JobEvent): Promise<string> {
    const id = await this.redis.xadd(
      this.key,
      'MAXLEN',
      '~',
      MAX_EVENTS,
      '*',
      'u',
      userId,
      'e',
      JSON.stringify(event),
    );
    return id ?? '';
  }
}
