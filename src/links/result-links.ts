import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived signed URLs for job results: `/api/jobs/:id/result?exp=…&sig=…`, where `sig` is an
 * HMAC-SHA256 over the job id, its owner and the expiry. An `<audio src>` or a download link
 * can then fetch the file (with Range requests) without the bearer token. Uploads (the job
 * detail's "before" player) get their own links, `/api/uploads/:id/audio?user=…&exp=…&sig=…`,
 * signed over a message that starts with `upload`, so neither kind of link passes for the other.
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

  /** The same link for the output written so far of an unfinished job (`&partial=1`; the signature is the job's). */
  partialUrl(jobId: string, userId: string, nowMs = Date.now()): string {
    return `${this.url(jobId, userId, nowMs)}&partial=1`;
  }

  /** True when `sig` was made for this job, owner and expiry, and the expiry has not passed. */
  verify(jobId: string, userId: string, exp: number, sig: string, nowMs = Date.now()): boolean {
    return ResultLinks.fresh(exp, nowMs) && same(sig, this.sign(jobId, userId, exp));
  }

  private signUpload(uploadId: string, userId: string, exp: number): string {
    return this.sign(`upload\n${uploadId}`, userId, exp);
  }

  /** A URL for the owner's uploaded original, valid for `ttlSec` from `nowMs`. */
  uploadUrl(uploadId: string, userId: string, nowMs = Date.now()): string {
    const exp = Math.floor(nowMs / 1000) + this.ttlSec;
    const sig = this.signUpload(uploadId, userId, exp);
    return `/api/uploads/${encodeURIComponent(uploadId)}/audio?user=${encodeURIComponent(userId)}&exp=${exp}&sig=${sig}`;
  }

  /** True when `sig` was made by uploadUrl for this upload, owner and expiry, and it has not expired. */
  verifyUpload(uploadId: string, userId: string, exp: number, sig: string, nowMs = Date.now()): boolean {
    return ResultLinks.fresh(exp, nowMs) && same(sig, this.signUpload(uploadId, userId, exp));
  }

  private signPreview(voiceId: string, model: string, userId: string, exp: number): string {
    return this.sign(`preview\n${model}\n${voiceId}`, userId, exp);
  }

  /**
   * A URL for a voice's preview, for the signed-in user it is given to: a preset's (`model` names
   * the model folder) or one of the user's own voices (`model` empty: its reference recording).
   */
  previewUrl(voiceId: string, model: string, userId: string, nowMs = Date.now()): string {
    const exp = Math.floor(nowMs / 1000) + this.ttlSec;
    const sig = this.signPreview(voiceId, model, userId, exp);
    const m = model ? `model=${encodeURIComponent(model)}&` : '';
    return `/api/voices/${encodeURIComponent(voiceId)}/preview?${m}user=${encodeURIComponent(userId)}&exp=${exp}&sig=${sig}`;
  }

  /** True when `sig` was made by previewUrl for this voice, model, user and expiry, and it has not expired. */
  verifyPreview(
    voiceId: string,
    model: string,
    userId: string,
    exp: number,
    sig: string,
    nowMs = Date.now(),
  ): boolean {
    return ResultLinks.fresh(exp, nowMs) && same(sig, this.signPreview(voiceId, model, userId, exp));
  }

  private static fresh(exp: number, nowMs: number): boolean {
    return Number.isInteger(exp) && exp * 1000 >= nowMs;
  }
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
