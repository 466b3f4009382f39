import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/index.js';
import type { RedisClient } from '../redis/core.js';
import { hashToken } from './session-store.js';

/** Shortest admin token accepted: 32 characters (a generated one has 32 random base64url ones). */
export const ADMIN_TOKEN_MIN_LENGTH = 32;

/** Failed admin tokens per client IP are counted over this window. */
const FAILURE_WINDOW_SEC = 600;

/**
 * Failed admin-token attempts per client IP in Redis (shared by every instance), over a fixed
 * window of 10 minutes: past `max`, the address gets 429 on admin routes until the window ends.
 */
export class AdminFailures {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly max: number,
  ) {}

  private key(ip: string): string {
    return `${this.prefix}:admin-failures:${ip}`;
  }

  async blocked(ip: string): Promise<boolean> {
    return Number(await this.redis.get(this.key(ip))) >= this.max;
  }

  /** Counts one failure; returns the count in the current window. */
  async record(ip: string): Promise<number> {
    // The window starts with the first failure (SET NX EX); INCR keeps its expiry.
    const replies = (await this.redis
      .multi()
      .set(this.key(ip), '0', 'EX', FAILURE_WINDOW_SEC, 'NX')
      .incr(this.key(ip))
      .exec()) as [Error | null, unknown][];
    return Number(replies[1][1]);
  }
}

/**
 * The admin credential: ADMIN_TOKEN, or the first line of ADMIN_TOKEN_FILE. Compared in
 * constant time on hashes, so neither length nor content leaks through timing.
 */
export class AdminCredential {
  private readonly hash: Buffer | undefined;

  constructor(token: string | undefined, tokenFile: string | undefined) {
    let value = token;
    if (!value && tokenFile) {
      value = readFileSync(tokenFile, 'utf8').split('\n')[0].trim();
      if (value.length < ADMIN_TOKEN_MIN_LENGTH)
        throw new ConfigError(
          `invalid configuration: ADMIN_TOKEN_FILE holds a token of ${value.length} characters; at least ${ADMIN_TOKEN_MIN_LENGTH} are needed`,
        );
    }
    this.hash = value ? Buffer.from(hashToken(value), 'hex') : undefined;
  }

  get configured(): boolean {
    return this.hash !== undefined;
  }

  matches(token: string | undefined): boolean {
    if (!this.hash || !token) return false;
    return timingSafeEqual(this.hash, Buffer.from(hashToken(token), 'hex'));
  }
}
