import type { FastifyBaseLogger } from 'fastify';
import { withDeadline } from '../lifecycle/core.js';
import { type JobEvent, webhookFeedKeys } from '../progress/core.js';
import type { RedisClient } from '../redis/core.js';
import { REDIS_QUIT_DEADLINE_MS } from '../redis/core.js';

const GROUP = 'webhooks';
/** An entry a consumer took and did not acknowledge for this long is taken over (its instance died). */
const CLAIM_IDLE_MS = 30_000;
const CLAIM_EVERY_MS = 10_000;
/**
 * Entries one read takes at most. A read costs four round trips whatever its size (the read, two
 * lookups, the XACK and XDEL): on a busy machine each waits to be scheduled, so small reads cap
 * how many events a second the dispatcher keeps up with.
 */
const READ_COUNT = 500;

export interface StreamEvent {
  /** The event's id in the job event stream (what clients see, and the delivery id's root). */
  eventId: string;
  userId: string;
  event: JobEvent;
}

/**
 * Handles the events of one read together (their lookups in one round trip); resolves the ids
 * of those that failed, which stay unacknowledged. A rejection leaves the whole read so.
 */
export type EventHandler = (events: StreamEvent[]) => Promise<Set<string>>;

function fieldOf(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return '';
}

/**
 * Reads the webhook feed (the events a webhook may want, copied there by the publisher:
 * `webhookFeedKeys`) as one consumer of the `webhooks` consumer group: each entry goes to one API
 * instance, and entries written while every instance was down, or while the dispatchers were
 * behind, wait in the feed until read: it is not capped, and an entry is deleted only once its
 * deliveries are queued (XACK and XDEL together). One whose consumer died is claimed by another
 * after CLAIM_IDLE_MS (delivery ids make a second queueing a no-op).
 */
export class WebhookDispatcher {
  private readonly key: string;
  private running = false;
  private loop: Promise<void> | undefined;
  private lastClaim = 0;

  /** @param blocking owned by this dispatcher (blocking reads), disconnected on close. */
  constructor(
    private readonly blocking: RedisClient,
    private readonly commands: RedisClient,
    prefix: string,
    private readonly consumer: string,
    private readonly handle: EventHandler,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    this.key = webhookFeedKeys(prefix).stream;
  }

  async start(): Promise<void> {
    try {
      // From the feed's start: what publishers wrote before any dispatcher ran is wanted too.
      await this.commands.xgroup('CREATE', this.key, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      // Redis says so only in words: the group exists already (another instance made it).
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
    this.running = true;
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.running = false;
    this.blocking.disconnect();
    await withDeadline(Promise.resolve(this.loop), REDIS_QUIT_DEADLINE_MS);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (Date.now() - this.lastClaim > CLAIM_EVERY_MS) {
          this.lastClaim = Date.now();
          const [, claimed] = (await this.commands.xautoclaim(
            this.key,
            GROUP,
            this.consumer,
            CLAIM_IDLE_MS,
            '0-0',
            'COUNT',
            100,
          )) as [string, [string, string[]][]];
          await this.process(claimed);
        }
        const res = (await this.blocking.xreadgroup(
          'GROUP',
          GROUP,
          this.consumer,
          'COUNT',
          READ_COUNT,
          'BLOCK',
          2000,
          'STREAMS',
          this.key,
          '>',
        )) as [string, [string, string[]][]][] | null;
        for (const [, entries] of res ?? []) await this.process(entries);
      } catch (err) {
        if (!this.running) return;
        this.log.warn({ err }, 'webhook dispatcher read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** One read's entries: handled together, then acknowledged and deleted in one MULTI. */
  private async process(entries: [string, string[] | null][]): Promise<void> {
    if (entries.length === 0) return;
    const events: StreamEvent[] = [];
    const entryOf = new Map<string, string>();
    for (const [id, fields] of entries) {
      // A deleted entry comes back from XAUTOCLAIM without fields: nothing left to deliver.
      if (!fields) continue;
      try {
        const eventId = fieldOf(fields, 'id');
        events.push({
          eventId,
          userId: fieldOf(fields, 'u'),
          event: JSON.parse(fieldOf(fields, 'e')) as JobEvent,
        });
        entryOf.set(eventId, id);
      } catch {
        // Not an event: acknowledged with the rest, as nothing could ever deliver it.
      }
    }
    // Not acknowledged on failure: claimed again after CLAIM_IDLE_MS.
    const failed = events.length ? await this.handle(events) : new Set<string>();
    const kept = new Set([...failed].map((eventId) => entryOf.get(eventId)));
    const done = entries.map(([id]) => id).filter((id) => !kept.has(id));
    if (done.length === 0) return;
    const res = await this.commands
      .multi()
      .xack(this.key, GROUP, ...done)
      .xdel(this.key, ...done)
      .exec();
    const err = res?.find(([e]) => e)?.[0];
    if (err) throw err;
  }
}
