import { webhookFeedKeys } from '../progress/core.js';
import type { JobWebhook, WebhookEvent } from '../queue/core.js';
import type { RedisClient } from '../redis/core.js';
import { newSecret } from './signature.js';

/** Events a webhook gets when it names none: the final ones (progress is asked for explicitly). */
export const DEFAULT_EVENTS: WebhookEvent[] = ['completed', 'failed', 'cancelled'];
export const WEBHOOK_EVENTS: WebhookEvent[] = ['completed', 'failed', 'cancelled', 'progress'];

/** Least time between two progress deliveries of one job. */
export const PROGRESS_INTERVAL_MS = 2000;

/**
 * Per user: the signing secret and the default webhook, and the user's place in the index of
 * users with one (the event publisher feeds the dispatcher only their events, and those of jobs
 * with a webhook of their own). Per job: the progress throttle.
 */
export class WebhookStore {
  private readonly users: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.users = webhookFeedKeys(prefix).users;
  }

  private key(kind: 'secret' | 'default', userId: string): string {
    return `${this.prefix}:webhook:${kind}:${userId}`;
  }

  /** Makes (or replaces) the user's secret and returns it: the only time it is shown. */
  async rotateSecret(userId: string): Promise<string> {
    const secret = newSecret();
    await this.redis.set(this.key('secret', userId), secret);
    return secret;
  }

  async secretOf(userId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('secret', userId))) ?? undefined;
  }

  async defaultOf(userId: string): Promise<JobWebhook | undefined> {
    const raw = await this.redis.get(this.key('default', userId));
    return raw ? (JSON.parse(raw) as JobWebhook) : undefined;
  }

  /** The default webhook of each user, in one round trip (MGET; the keys share the prefix's slot). */
  async defaultsOf(userIds: string[]): Promise<(JobWebhook | undefined)[]> {
    if (userIds.length === 0) return [];
    const raw = await this.redis.mget(userIds.map((u) => this.key('default', u)));
    return raw.map((r) => (r ? (JSON.parse(r) as JobWebhook) : undefined));
  }

  /** The user's events from now on reach the dispatcher (both writes or neither: MULTI). */
  async setDefault(userId: string, webhook: JobWebhook): Promise<void> {
    await this.exec(
      this.redis.multi().set(this.key('default', userId), JSON.stringify(webhook)).sadd(this.users, userId),
    );
  }

  async removeDefault(userId: string): Promise<void> {
    await this.exec(this.redis.multi().del(this.key('default', userId)).srem(this.users, userId));
  }

  /** Drops the user's secret and default webhook (a removed account). */
  async forget(userId: string): Promise<void> {
    await this.exec(
      this.redis
        .multi()
        .del(this.key('secret', userId), this.key('default', userId))
        .srem(this.users, userId),
    );
  }

  /**
   * Puts every user who has a default webhook into the index, once per deployment (a marker key
   * remembers it): defaults set before the index existed. A default removed meanwhile may leave
   * its user listed, which only makes the dispatcher read events it then finds unwanted.
   */
  async indexExisting(): Promise<void> {
    const marker = `${this.users}:indexed`;
    if (await this.redis.exists(marker)) return;
    const head = this.key('default', '');
    const pattern = `${head.replace(/[*?[\]\\]/g, '\\$&')}*`;
    const nodes = 'nodes' in this.redis ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await this.redis.sadd(this.users, ...keys.map((k) => k.slice(head.length)));
      } while (cursor !== '0');
    }
    await this.redis.set(marker, '1');
  }

  private async exec(multi: ReturnType<RedisClient['multi']>): Promise<void> {
    const res = await multi.exec();
    const err = res?.find(([e]) => e)?.[0];
    if (err) throw err;
  }

  /** True for the first progress event of a job in each PROGRESS_INTERVAL_MS, across instances. */
  async takeProgressSlot(jobId: string): Promise<boolean> {
    const key = `${this.prefix}:webhook:progress:${jobId}`;
    return (await this.redis.set(key, '1', 'PX', PROGRESS_INTERVAL_MS, 'NX')) === 'OK';
  }
}
