import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/core.js';

/** What is kept under one key: a request in progress, or the answer it got. */
export type IdempotencyRecord =
  | { state: 'pending'; fingerprint?: string }
  | { state: 'done'; fingerprint: string; status: number; contentType: string; body: string };

export interface IdempotencyStoreOptions {
  /** How long an answer is replayed. Default 24 h. */
  ttlMs?: number;
  /** How long a claim holds while its request runs (a crashed instance's claim lapses then). Default 15 min. */
  pendingMs?: number;
}

/**
 * Idempotency keys in Redis, one namespace per user (the same key from two users is two keys).
 * A claim is `SET NX`, so of N concurrent requests with one key, on any number of instances,
 * exactly one runs; the others wait for its answer.
 */
export class IdempotencyStore {
  readonly ttlMs: number;
  readonly pendingMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    options: IdempotencyStoreOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 24 * 3600 * 1000;
    this.pendingMs = options.pendingMs ?? 15 * 60 * 1000;
  }

  /** The Redis key of a user's idempotency key (hashed: a client's key may be long or odd). */
  keyOf(userId: string, key: string): string {
    return `${this.prefix}:idem:${userId}:${createHash('sha256').update(key).digest('hex')}`;
  }

  /** True when this request now owns the key. */
  async claim(redisKey: string, fingerprint: string | undefined): Promise<boolean> {
    const record: IdempotencyRecord = { state: 'pending', fingerprint };
    return (await this.redis.set(redisKey, JSON.stringify(record), 'PX', this.pendingMs, 'NX')) === 'OK';
  }

  async get(redisKey: string): Promise<IdempotencyRecord | undefined> {
    const raw = await this.redis.get(redisKey);
    return raw ? (JSON.parse(raw) as IdempotencyRecord) : undefined;
  }

  async complete(redisKey: string, record: Extract<IdempotencyRecord, { state: 'done' }>): Promise<void> {
    await this.redis.set(redisKey, JSON.stringify(record), 'PX', this.ttlMs);
  }

  /** A request that did not succeed gives its key back, so that a retry runs again. */
  async release(redisKey: string): Promise<void> {
    await this.redis.del(redisKey);
  }
}
