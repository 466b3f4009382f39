import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { eventStreamKey } from './event-log.js';
import type { JobEvent } from './events.js';

export type EventListener = (event: JobEvent, eventId: string) => void;

/**
 * The read side of the job event stream for one API instance: a single blocking XREAD loop on
 * its own connection, fanning events out in-process to the listeners of each user. One Redis
 * reader per instance, however many sockets.
 */
export class ProgressHub {
  private readonly listeners = new Map<string, Set<EventListener>>();
  private readonly key: string;
  private running = false;
  private loop: Promise<void> | undefined;
  private lastId = '$';

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    this.key = eventStreamKey(prefix);
  }

  async start(): Promise<void> {
    // Start from the newest id now, so nothing published after start() resolves is missed.
    const last = (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', 1)) as [string, string[]][];
    this.lastId = last[0]?.[0] ?? '0-0';
    this.running = true;
    this.loop = this.run();
  }

  subscribe(userId: string, listener: EventListener): () => void {
    let set = this.listeners.get(userId);
    if (!set) {
      set = new Set();
      this.listeners.set(userId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(userId);
    };
  }

  get subscriberCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  async close(): Promise<void> {
    this.running = false;
    // The blocking read holds its connection; disconnecting ends it at once.
    this.redis.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const res = (await this.redis.xread('COUNT', 500, 'BLOCK', 5000, 'STREAMS', this.key, this.lastId)) as
          | [string, [string, string[]][]][]
          | null;
        if (!res) continue;
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            this.dispatch(id, fields);
          }
        }
      } catch (err) {
        if (!this.running) return;
        this.log.warn({ err }, 'progress hub read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private dispatch(id: string, fields: string[]): void {
    let userId = '';
    let raw = '';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'u') userId = fields[i + 1];
      else if (fields[i] === 'e') raw = fields[i + 1];
    }
    const set = this.listeners.get(userId);
    if (!set || set.size === 0) return;
    let event: JobEvent;
    try {
      event = JSON.parse(raw) as JobEvent;
    } catch {
      return;
    }
    for (const listener of set) listener(event, id);
  }
}
