import type { FastifyBaseLogger } from 'fastify';
import { withDeadline } from '../lifecycle/core.js';
import type { RedisClient } from '../redis/core.js';
import { REDIS_QUIT_DEADLINE_MS } from '../redis/core.js';
import { eventStreamKey } from './event-log.js';
import { compareEventIds, EVENT_ID_PATTERN, type JobEvent } from './events.js';

export type EventListener = (event: JobEvent, eventId: string) => void;

/** A resume reads at most this many stream entries; past that a snapshot is cheaper. */
const MAX_REPLAY_SCAN = 20_000;
const REPLAY_PAGE = 1000;

/** What a resume can give: the user's events after the id, or `gone` when they may be trimmed. */
export type Replay = { kind: 'events'; events: [string, JobEvent][] } | { kind: 'gone' };

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

  /**
   * @param redis blocked by the XREAD loop; this hub owns it and disconnects it on close.
   * @param commands a shared connection for replays (not closed here).
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly commands: RedisClient,
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

  /**
   * The id of the last event dispatched. A listener subscribed now gets every event after it, so
   * a snapshot taken after subscribing covers the stream up to here.
   */
  get position(): string {
    return this.lastId;
  }

  /**
   * The user's events after `afterId` up to `upTo` (both stream ids), read with XRANGE. `gone`
   * when `afterId` is not a stream id, lies outside the kept part of the stream (trimmed, or from
   * another stream), or the gap is too long to be worth replaying.
   */
  async replay(userId: string, afterId: string, upTo: string): Promise<Replay> {
    if (!EVENT_ID_PATTERN.test(afterId)) return { kind: 'gone' };
    const [[, oldest], [, newest]] = (await this.commands
      .multi()
      .xrange(this.key, '-', '+', 'COUNT', 1)
      .xrevrange(this.key, '+', '-', 'COUNT', 1)
      .exec()) as [[Error | null, [string, string[]][]], [Error | null, [string, string[]][]]];
    const first = oldest?.[0]?.[0];
    const last = newest?.[0]?.[0];
    // Every entry after afterId is still kept only if the oldest kept entry is not newer than it.
    if (!first || !last || compareEventIds(afterId, first) < 0 || compareEventIds(afterId, last) > 0)
      return { kind: 'gone' };
    const events: [string, JobEvent][] = [];
    let from = `(${afterId}`;
    for (let scanned = 0; compareEventIds(from.replace('(', ''), upTo) < 0; ) {
      if (scanned >= MAX_REPLAY_SCAN) return { kind: 'gone' };
      const page = (await this.commands.xrange(this.key, from, upTo, 'COUNT', REPLAY_PAGE)) as [
        string,
        string[],
      ][];
      for (const [id, fields] of page) {
        const entry = parseEntry(fields);
        if (entry && entry.userId === userId) events.push([id, entry.event]);
      }
      scanned += page.length;
      if (page.length < REPLAY_PAGE) break;
      from = `(${page[page.length - 1][0]}`;
    }
    return { kind: 'events', events };
  }

  async close(): Promise<void> {
    this.running = false;
    // The blocking read holds its connection; disconnecting ends it at once, except while the
    // connection waits to reconnect: then ioredis never settles the read, hence the deadline.
    this.redis.disconnect();
    await withDeadline(Promise.resolve(this.loop), REDIS_QUIT_DEADLINE_MS);
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
    const userId = fieldOf(fields, 'u');
    const set = this.listeners.get(userId);
    if (!set || set.size === 0) return;
    const entry = parseEntry(fields);
    if (!entry) return;
    for (const listener of set) listener(entry.event, id);
  }
}

function fieldOf(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return '';
}

function parseEntry(fields: string[]): { userId: string; event: JobEvent } | undefined {
  try {
    return { userId: fieldOf(fields, 'u'), event: JSON.parse(fieldOf(fields, 'e')) as JobEvent };
  } catch {
    return undefined;
  }
}
