import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/core.js';

export interface Principal {
  userId: string;
  /** How the caller authenticated: an anonymous session token or an admin-issued API key. */
  kind?: 'session' | 'key';
}

/** Looks up API keys (src/auth/accounts.ts); kept as an interface so sessions need no accounts. */
export interface ApiKeyVerifier {
  verifyKey(apiKey: string): Promise<string | undefined>;
}

export interface SessionStoreOptions {
  /** `keys`: session tokens are neither issued nor accepted. Default `open`. */
  mode?: 'open' | 'keys';
  /** Makes API keys (`vck_...`) valid bearer tokens too. */
  apiKeys?: ApiKeyVerifier;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Anonymous sessions: a random bearer token whose SHA-256 maps to a user id in Redis.
 * Only the hash is stored, so a Redis dump does not hand out working tokens.
 */
export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly ttlSec: number,
    private readonly options: SessionStoreOptions = {},
  ) {}

  get enabled(): boolean {
    return this.options.mode !== 'keys';
  }

  async create(): Promise<{ token: string; userId: string }> {
    const token = randomBytes(32).toString('base64url');
    const userId = `u_${randomBytes(8).toString('hex')}`;
    await this.redis.set(this.key(token), userId, 'EX', this.ttlSec);
    return { token, userId };
  }

  async verify(token: string): Promise<Principal | undefined> {
    if (token.length < 16 || token.length > 256) return undefined;
    if (this.options.apiKeys && token.startsWith('vck_')) {
      const owner = await this.options.apiKeys.verifyKey(token);
      return owner ? { userId: owner, kind: 'key' } : undefined;
    }
    if (!this.enabled) return undefined;
    const userId = await this.redis.get(this.key(token));
    return userId ? { userId, kind: 'session' } : undefined;
  }

  private key(token: string): string {
    return `${this.prefix}:session:${hashToken(token)}`;
  }
}
