import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hashToken } from './session-store.js';

/**
 * The admin credential: ADMIN_TOKEN, or the first line of ADMIN_TOKEN_FILE. Compared in
 * constant time on hashes, so neither length nor content leaks through timing.
 */
export class AdminCredential {
  private readonly hash: Buffer | undefined;

  constructor(token: string | undefined, tokenFile: string | undefined) {
    let value = token;
    if (!value && tokenFile) value = readFileSync(tokenFile, 'utf8').split('\n')[0].trim();
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
