import { type RedisClient, redisScript } from '../redis/core.js';
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
 * The webhook dispatcher's own feed (src/webhooks): `stream` gets a copy of each event a webhook
 * may want, written with the event itself; `users` is the set of users with a default webhook
 * (kept by WebhookStore). The stream is not capped: the dispatcher deletes what it has handled,
 * so an entry stays until it is handled, however far behind the dispatcher is.
 */
export function webhookFeedKeys(prefix: string): { stream: string; users: string } {
  return { stream: `${prefix}:webhook:events`, users: `${prefix}:webhook:users` };
}

/** Event types a webhook can ask for (`stage`, `resultGone` and `removed` never go to one). */
const DELIVERABLE = new Set<JobEvent['type']>(['progress', 'completed', 'failed', 'cancelled']);

/**
 * Appends events to the stream; each one a webhook may want (its job has a webhook of its own,
 * or its user a default one) also to the webhook feed, with its stream id (`id`). One script, so
 * an event is in both or in neither. KEYS: events, feed, users. ARGV: MAXLEN, user, job webhook
 * ('1'/'0'), then per event: deliverable ('1'/'0') and its JSON. Resolves the last event's id.
 */
const PUBLISH = redisScript(
  'vcfarmPublishEvents',
  `
local wanted = nil
local id
for i = 4, #ARGV, 2 do
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'u', ARGV[2], 'e', ARGV[i + 1])
  if ARGV[i] == '1' then
    if wanted == nil then
      wanted = ARGV[3] == '1' or redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1
    end
    if wanted then redis.call('XADD', KEYS[2], '*', 'id', id, 'u', ARGV[2], 'e', ARGV[i + 1]) end
  end
end
return id
`,
);

export interface PublishOptions {
  /** The job carries a webhook of its own (ConvertJobData.webhook): its events go to the feed. */
  jobWebhook?: boolean;
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
  private readonly keys: string[];
  private readonly stages = new Map<string, string>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    const feed = webhookFeedKeys(prefix);
    this.keys = [eventStreamKey(prefix), feed.stream, feed.users];
  }

  /** Appends the event; resolves its stream id (the `eventId` clients see). */
  async publish(userId: string, event: JobEvent, opts: PublishOptions = {}): Promise<string> {
    const events: JobEvent[] = [event];
    if (event.type === 'progress' && this.stages.get(event.jobId) !== event.stage) {
      this.stages.set(event.jobId, event.stage);
      events.unshift({ type: 'stage', jobId: event.jobId, stage: event.stage });
    } else if (isFinalEvent(event)) this.stages.delete(event.jobId);
    else if (event.type === 'stage') this.stages.set(event.jobId, event.stage);
    const args = [String(MAX_EVENTS), userId, opts.jobWebhook ? '1' : '0'];
    for (const e of events) args.push(DELIVERABLE.has(e.type) ? '1' : '0', JSON.stringify(e));
    return String(await PUBLISH(this.redis, this.keys, args));
  }
}
