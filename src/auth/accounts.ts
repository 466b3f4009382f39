import { randomBytes } from 'node:crypto';
import type { PlanOverrides } from '../plans/index.js';
import type { RedisClient } from '../redis/core.js';
import { redisScript } from '../redis/script.js';
import { hashToken } from './session-store.js';

/** A named user created by the administrator; it authenticates with API keys. */
export interface Account {
  id: string;
  name: string;
  plan: string;
  overrides: PlanOverrides;
  createdAt: number;
}

/** Names are unique without regard to case or surrounding spaces ("Alice" and "alice" are one). */
const nameKey = (name: string) => name.trim().toLowerCase();

/** Replaces a stale name-index entry only if it still points at the account that is gone. */
const TAKE_OVER = redisScript(
  'vcfarmTakeOverName',
  `if (redis.call('HGET', KEYS[1], ARGV[1]) or '') == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0`,
);

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

  /**
   * Creates an account, or returns undefined when another account already has that name (compared
   * without case). The name index (`accounts:names`, claimed with HSETNX) settles two concurrent
   * creations; the scan of the list covers accounts made before the index existed.
   */
  async create(
    name: string,
    plan: string,
    overrides: PlanOverrides = {},
  ): Promise<{ account: Account; apiKey: string } | undefined> {
    const account: Account = {
      id: `u_${randomBytes(8).toString('hex')}`,
      name,
      plan,
      overrides,
      createdAt: Date.now(),
    };
    if (!(await this.claimName(name, account.id))) return undefined;
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
    const account = await this.get(id);
    if (!account) return false;
    const old = await this.redis.smembers(this.keysOf(id));
    const tx = this.redis.multi();
    for (const h of old) tx.del(this.apiKeyKey(h));
    tx.del(this.keysOf(id), this.accountKey(id));
    tx.zrem(this.indexKey, id);
    tx.hdel(this.namesKey, nameKey(account.name));
    tx.sadd(this.deletedKey, id);
    await tx.exec();
    return true;
  }

  /** Which of these user ids belonged to accounts that were removed. */
  async removedAmong(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const flags = await this.redis.smismember(this.deletedKey, ...ids);
    return new Set(ids.filter((_, i) => flags[i] === 1));
  }

  private async claimName(name: string, id: string): Promise<boolean> {
    const key = nameKey(name);
    if ((await this.list()).some((a) => nameKey(a.name) === key)) return false;
    if ((await this.redis.hsetnx(this.namesKey, key, id)) === 1) return true;
    // The holder may be gone (an account removed before its entry was dropped): take the name over.
    const holder = await this.redis.hget(this.namesKey, key);
    if (holder && (await this.get(holder))) return false;
    return (await TAKE_OVER(this.redis, [this.namesKey], [key, holder ?? '', id])) === 1;
  }

  /** The user an API key belongs to. */
  async verifyKey(apiKey: string): Promise<string | undefined> {
    if (!apiKey.startsWith(API_KEY_PREFIX) || apiKey.length > 256) return undefined;
    return (await this.redis.get(this.apiKeyKey(hashToken(apiKey)))) ?? undefined;
  }

  private newKey(): string {
    return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  }
  private get namesKey(): string {
    return `${this.prefix}:accounts:names`;
  }
  private get deletedKey(): string {
    return `${this.prefix}:accounts:removed`;
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
