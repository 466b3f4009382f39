import type { FastifyBaseLogger } from 'fastify';
import { withDeadline } from '../lifecycle/core.js';
import { eventStreamKey, type JobEvent } from '../progress/core.js';
import type { RedisClient } from '../redis/core.js';
import { REDIS_QUIT_DEADLINE_MS } from '../redis/core.js';

const GROUP = 'webhooks';
/** An entry a consumer took and did not acknowledge for this long is taken over (its instance died). */
const CLAIM_IDLE_MS = 30_000;
const CLAIM_EVERY_MS = 10_000;
/**
 * Entries one read takes at most. A read costs four round trips whatever its size (the read, two
 * lookups, the XACK): on a busy machine each waits to be scheduled, so small reads cap how many
 * events a second the dispatcher keeps up with (100 fell behind at 5,000 a second per instance).
 */
const READ_COUNT = 500;

export interface StreamEvent {
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
 * Reads the job event stream as one consumer of the `webhooks` consumer group: each event goes
 * to one API instance, and events published while every instance was down are read when one
 * starts. An entry is acknowledged once its deliveries are queued; one whose consumer died is
 * claimed by another after CLAIM_IDLE_MS (delivery ids make a second queueing a no-op).
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
    this.key = eventStreamKey(prefix);
  }

  async start(): Promise<void> {
    try {
      await this.commands.xgroup('CREATE', this.key, GROUP, '$', 'MKSTREAM');
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

  /** One read's entries: handled together, then acknowledged with one XACK. */
  private async process(entries: [string, string[] | null][]): Promise<void> {
    if (entries.length === 0) return;
    const events: StreamEvent[] = [];
    for (const [id, fields] of entries) {
      // A trimmed entry comes back from XAUTOCLAIM without fields: nothing left to deliver.
      if (!fields) continue;
      try {
        events.push({
          eventId: id,
          userId: fieldOf(fields, 'u'),
          event: JSON.parse(fieldOf(fields, 'e')) as JobEvent,
        });
      } catch {
        // Not an event: acknowledged with the rest, as nothing could ever deliver it.
      }
    }
    // Not acknowledged on failure: claimed again after CLAIM_IDLE_MS.
    const failed = events.length ? await this.handle(events) : new Set<string>();
    const done = entries.map(([id]) => id).filter((id) => !failed.has(id));
    if (done.length) await this.commands.xack(this.key, GROUP, ...done);
  }
}
