import type { JobWebhook, WebhookEvent } from '../queue/core.js';
import type { RedisClient } from '../redis/core.js';
import { newSecret } from './signature.js';

/** Events a webhook gets when it names none: the final ones (progress is asked for explicitly). */
export const DEFAULT_EVENTS: WebhookEvent[] = ['completed', 'failed', 'cancelled'];
export const WEBHOOK_EVENTS: WebhookEvent[] = ['completed', 'failed', 'cancelled', 'progress'];

/** Least time between two progress deliveries of one job. */
export const PROGRESS_INTERVAL_MS = 2000;

/** Per user: the signing secret and the default webhook. Per job: the progress throttle. */
export class WebhookStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

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

  async setDefault(userId: string, webhook: JobWebhook): Promise<void> {
    await this.redis.set(this.key('default', userId), JSON.stringify(webhook));
  }

  async removeDefault(userId: string): Promise<void> {
    await this.redis.del(this.key('default', userId));
  }

  /** Drops the user's secret and default webhook (a removed account). */
  async forget(userId: string): Promise<void> {
    await this.redis.del(this.key('secret', userId), this.key('default', userId));
  }

  /** True for the first progress event of a job in each PROGRESS_INTERVAL_MS, across instances. */
  async takeProgressSlot(jobId: string): Promise<boolean> {
    const key = `${this.prefix}:webhook:progress:${jobId}`;
    return (await this.redis.set(key, '1', 'PX', PROGRESS_INTERVAL_MS, 'NX')) === 'OK';
  }
}
