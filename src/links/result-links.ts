import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived signed URLs for job results: `/api/jobs/:id/result?exp=…&sig=…`, where `sig` is an
 * HMAC-SHA256 over the job id, its owner and the expiry. An `<audio src>` or a download link
 * can then fetch the file (with Range requests) without the bearer token.
 */
export class ResultLinks {
  constructor(
    private readonly secret: Buffer,
    /** How long a link stays valid, in seconds. */
    readonly ttlSec: number,
  ) {}

  private sign(jobId: string, userId: string, exp: number): string {
    return createHmac('sha256', this.secret).update(`${jobId}\n${userId}\n${exp}`).digest('base64url');
  }

  /** A URL for the owner's job result, valid for `ttlSec` from `nowMs`. */
  url(jobId: string, userId: string, nowMs = Date.now()): string {
    const exp = Math.floor(nowMs / 1000) + this.ttlSec;
    const sig = this.sign(jobId, userId, exp);
    return `/api/jobs/${encodeURIComponent(jobId)}/result?exp=${exp}&sig=${sig}`;
  }

  /** True when `sig` was made for this job, owner and expiry, and the expiry has not passed. */
  verify(jobId: string, userId: string, exp: number, sig: string, nowMs = Date.now()): boolean {
    if (!Number.isInteger(exp) || exp * 1000 < nowMs) return false;
    const expected = Buffer.from(this.sign(jobId, userId, exp));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
