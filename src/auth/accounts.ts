import { randomBytes } from 'node:crypto';
import type { PlanOverrides } from '../plans/index.js';
import type { RedisClient } from '../redis/core.js';
import { hashToken } from './session-store.js';

/** A named user created by the administrator; it authenticates with API keys. */
export interface Account {
  id: string;
  name: string;
  plan: string;
  overrides: PlanOverrides;
  createdAt: number;
}

/** API keys carry a prefix so they can never be mistaken for a session token. */
export const API_KEY_PREFIX = 'vck_';

/**
 * Accounts and their API keys in Redis. Keys are random and shown once; only their SHA-256 is
 * stored (`apikey:<hash>` → user id), plus the set of a user's hashes so they can be revoked.
 */
export class AccountStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async create(
    name: string,
    plan: string,
    overrides: PlanOverrides = {},
  ): Promise<{ account: Account; apiKey: string }> {
    const account: Account = {
      id: `u_${randomBytes(8).toString('hex')}`,
      name,
      plan,
      overrides,
      createdAt: Date.now(),
    };
    const apiKey = this.newKey();
    await this.redis
      .multi()
      .set(this.accountKey(account.id), JSON.stringify(account))
      .zadd(this.indexKey, account.createdAt, account.id)
      .set(this.apiKeyKey(hashToken(apiKey)), account.id)
      .sadd(this.keysOf(account.id), hashToken(apiKey))
      .exec();
    return { account, apiKey };
  }

  async get(id: string): Promise<Account | undefined> {
    const raw = await this.redis.get(this.accountKey(id));
    return raw ? (JSON.parse(raw) as Account) : undefined;
  }

  /** The names of those of `ids` that are accounts (anonymous sessions have none): one MGET. */
  async names(ids: string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const raws = await this.redis.mget(unique.map((id) => this.accountKey(id)));
    const names = new Map<string, string>();
    raws.forEach((raw, i) => {
      if (raw) names.set(unique[i], (JSON.parse(raw) as Account).name);
    });
    return names;
  }

  async list(): Promise<Account[]> {
    const ids = await this.redis.zrange(this.indexKey, 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.accountKey(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Account);
  }

  /** Revokes every key of the user and issues a new one. */
  async rotateKey(id: string): Promise<string | undefined> {
    if (!(await this.get(id))) return undefined;
    const apiKey = this.newKey();
    const old = await this.redis.smembers(this.keysOf(id));
    const tx = this.redis.multi();
    for (const h of old) tx.del(this.apiKeyKey(h));
    tx.del(this.keysOf(id));
    tx.set(this.apiKeyKey(hashToken(apiKey)), id);
    tx.sadd(this.keysOf(id), hashToken(apiKey));
    await tx.exec();
    return apiKey;
  }

  /** Removes the account and revokes its keys; false when there was none. */
  async remove(id: string): Promise<boolean> {
    if (!(await this.get(id))) return false;
    const old = await this.redis.smembers(this.keysOf(id));
    const tx = this.redis.multi();
    for (const h of old) tx.del(this.apiKeyKey(h));
    tx.del(this.keysOf(id), this.accountKey(id));
    tx.zrem(this.indexKey, id);
    await tx.exec();
    return true;
  }

  /** The user an API key belongs to. */
  async verifyKey(apiKey: string): Promise<string | undefined> {
    if (!apiKey.startsWith(API_KEY_PREFIX) || apiKey.length > 256) return undefined;
    return (await this.redis.get(this.apiKeyKey(hashToken(apiKey)))) ?? undefined;
  }

  private newKey(): string {
    return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  }
  private get indexKey(): string {
    return `${this.prefix}:accounts`;
  }
  private accountKey(id: string): string {
    return `${this.prefix}:account:${id}`;
  }
  private keysOf(id: string): string {
    return `${this.prefix}:account:${id}:keys`;
  }
  private apiKeyKey(hash: string): string {
    return `${this.prefix}:apikey:${hash}`;
  }
}
