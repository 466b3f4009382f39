import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/index.js';
import type { RedisClient } from '../redis/core.js';
import { hashToken } from './session-store.js';

/** Shortest admin token accepted: 32 characters (a generated one has 32 random base64url ones). */
export const ADMIN_TOKEN_MIN_LENGTH = 32;

/** Failed admin tokens per client IP are counted over this window. */
const FAILURE_WINDOW_SEC = 600;
/** A client that used the right token stays known to its address this long after its last success. */
const TRUST_SEC = 24 * 3600;

/** A short digest: of a wrong token (what is counted, never the token) or of a client's name. */
const digest = (value: string) => hashToken(value).slice(0, 32);

/**
 * Failed admin-token attempts per client IP in Redis (shared by every instance), over a fixed
 * window of 10 minutes: past `max` different wrong tokens, the address gets 429 on admin routes
 * until the window ends. The same wrong token sent again (a typo the dashboard read with four
 * requests, a scraper with a stale token every 15 s) counts once: a repeat tells a guesser nothing.
 *
 * A client that used the right token before (its address and User-Agent: Prometheus scraping
 * from a host where someone mistyped the token) stays let in while its address is blocked; one
 * wrong token from it ends that, so a guesser posing as it gains one guess per success it never
 * had. Every other client from the address waits out the window, the right token included.
 */
export class AdminFailures {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly max: number,
  ) {}

  private key(ip: string): string {
    return `${this.prefix}:admin-failed-tokens:${ip}`;
  }

  private trustKey(ip: string, client: string): string {
    return `${this.prefix}:admin-trusted:${ip}:${digest(client)}`;
  }

  async blocked(ip: string): Promise<boolean> {
    return (await this.redis.scard(this.key(ip))) >= this.max;
  }

  /** Counts one wrong token (once per distinct token); returns how many the window holds. */
  async record(ip: string, token: string): Promise<number> {
    // The window starts with the first failure (EXPIRE NX): later ones keep its end.
    const replies = (await this.redis
      .multi()
      .sadd(this.key(ip), digest(token))
      .expire(this.key(ip), FAILURE_WINDOW_SEC, 'NX')
      .scard(this.key(ip))
      .exec()) as [Error | null, unknown][];
    return Number(replies[2][1]);
  }

  async trusted(ip: string, client: string): Promise<boolean> {
    return (await this.redis.exists(this.trustKey(ip, client))) === 1;
  }

  /** Remembers a client that used the right token. */
  async trust(ip: string, client: string): Promise<void> {
    await this.redis.set(this.trustKey(ip, client), '1', 'EX', TRUST_SEC);
  }

  async distrust(ip: string, client: string): Promise<void> {
    await this.redis.del(this.trustKey(ip, client));
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
