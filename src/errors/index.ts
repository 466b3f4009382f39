/**
 * vcfarm's error values. Each has a stable code; the API maps the class to an HTTP status in one
 * place (src/api/error-handler.ts). Errors that cross a thread or process boundary are matched by
 * `code`, never by `instanceof` or message text.
 */
import type { ErrorCode } from './codes.js';

export { ERROR_CODES, ERROR_TABLE_BEGIN, ERROR_TABLE_END, type ErrorCode, errorTable } from './codes.js';

export class VcError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class ConfigError extends VcError {
  constructor(message: string) {
    super('VC_ERR_CONFIG', message);
  }
}

export class ValidationError extends VcError {
  constructor(message: string) {
    super('VC_ERR_VALIDATION', message);
  }
}

export class UnauthorizedError extends VcError {
  constructor(message = 'a valid bearer token is required') {
    super('VC_ERR_UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends VcError {
  constructor(message = 'not allowed') {
    super('VC_ERR_FORBIDDEN', message);
  }
}

/** Also used for other users' resources, so that ids leak nothing. */
export class NotFoundError extends VcError {
  constructor(what: string) {
    super('VC_ERR_NOT_FOUND', `${what} not found`);
  }
}

/** A model folder whose manifest, graphs or presets are unusable; the message says what, without paths. */
export class ModelBrokenError extends VcError {
  constructor(model: string, reason: string) {
    super('VC_ERR_MODEL_BROKEN', `model "${model}" cannot be used: ${reason}`);
  }
}

/** A Range request outside the file (the route sets `Content-Range: bytes *\/<size>`). */
export class RangeNotSatisfiableError extends VcError {
  constructor() {
    super('VC_ERR_RANGE_NOT_SATISFIABLE', 'the requested range is outside the file');
  }
}

export class TooLargeError extends VcError {
  constructor(message: string) {
    super('VC_ERR_TOO_LARGE', message);
  }
}

export class UnsupportedAudioError extends VcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VC_ERR_UNSUPPORTED_AUDIO', message, options);
  }
}

export class ConflictError extends VcError {
  constructor(message: string) {
    super('VC_ERR_CONFLICT', message);
  }
}

/** A job's result asked for while the job is still queued or running: it has none yet. */
export class JobNotFinishedError extends VcError {
  constructor(jobId: string, state: 'queued' | 'active') {
    super(
      'VC_ERR_JOB_NOT_FINISHED',
      `job ${jobId} is ${state === 'queued' ? 'queued' : 'active (converting)'}: its result can be fetched once it has completed; follow it with GET /api/jobs/${jobId} or the WebSocket`,
    );
  }
}

export class UnavailableError extends VcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VC_ERR_UNAVAILABLE', message, options);
  }
}

export class RateLimitedError extends VcError {
  constructor(message: string) {
    super('VC_ERR_RATE_LIMITED', message);
  }
}

/** Workspace storage quota (bytes or files) would be exceeded; the message gives limit and usage. */
export class QuotaExceededError extends VcError {
  constructor(message: string) {
    super('VC_ERR_QUOTA_EXCEEDED', message);
  }
}

/** The audio decodes to more than the plan allows, whatever its header says. */
export class AudioTooLongError extends VcError {
  constructor(message: string) {
    super('VC_ERR_AUDIO_TOO_LONG', message);
  }
}

/** POST /api/session while AUTH_MODE=keys: only admin-issued API keys are accepted. */
export class SessionsDisabledError extends VcError {
  constructor() {
    super(
      'VC_ERR_SESSIONS_DISABLED',
      'anonymous sessions are disabled here (AUTH_MODE=keys); use an API key',
    );
  }
}

/** The user already has as many queued jobs as the plan allows. */
export class TooManyJobsError extends VcError {
  constructor(message: string) {
    super('VC_ERR_TOO_MANY_JOBS', message);
  }
}

/** The data volume is below MIN_FREE_DISK_BYTES: nothing new is written until space is freed. */
export class InsufficientStorageError extends VcError {
  constructor() {
    super('VC_ERR_INSUFFICIENT_STORAGE', 'the server is low on storage space; try again later');
  }
}

/** The user already sends as many uploads at once as an instance allows (UPLOADS_PER_USER). */
export class TooManyUploadsError extends VcError {
  constructor(max: number) {
    super('VC_ERR_TOO_MANY_UPLOADS', `at most ${max} uploads at a time per user; wait for one to finish`);
  }
}

/** A rate in bytes per second as people read it: "16 KB/s", "500 bytes/s". */
const perSecond = (bytes: number): string =>
  bytes >= 1024 ? `${Math.round(bytes / 1024)} KB/s` : `${bytes} bytes/s`;

/** An upload's body arrived slower than UPLOAD_MIN_BYTES_PER_SEC over a whole window. */
export class UploadTooSlowError extends VcError {
  constructor(minBytesPerSec: number) {
    super(
      'VC_ERR_UPLOAD_TOO_SLOW',
      `the upload arrived slower than ${perSecond(minBytesPerSec)}, the least this service accepts, and was cut off; try again on a faster connection`,
    );
  }
}

/** A request did not arrive in full within REQUEST_TIMEOUT_MS (answered by the HTTP server itself). */
export class RequestTimeoutError extends VcError {
  constructor(timeoutMs: number) {
    super(
      'VC_ERR_REQUEST_TIMEOUT',
      `the request did not arrive in full within ${Math.round(timeoutMs / 1000)} s and was cut off; on a slow connection, send a smaller file`,
    );
  }
}

/** An Idempotency-Key used again with another request body (or on another route). */
export class IdempotencyMismatchError extends VcError {
  constructor() {
    super(
      'VC_ERR_IDEMPOTENCY_MISMATCH',
      'this Idempotency-Key was used with a different request; use a new key for a new request',
    );
  }
}

/** A multipart body without a boundary, cut short, or otherwise not parseable. */
export class MalformedMultipartError extends VcError {
  constructor(options?: { cause?: unknown }) {
    super(
      'VC_ERR_MALFORMED_MULTIPART',
      'the multipart body is malformed (no boundary, cut short, or a bad part header)',
      options,
    );
  }
}

/** Reads `code` off anything thrown, including errors rebuilt after crossing a thread. */
export function errorCodeOf(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('VC_ERR_') ? (code as ErrorCode) : 'VC_ERR_INTERNAL';
}

/**
 * A job's failure as it crosses BullMQ: the worker throws an error whose message is this shape as
 * JSON, BullMQ stores that message as the job's `failedReason`, and `decodeJobFailure` reads it back.
 */
export interface JobFailure {
  code: ErrorCode;
  message: string;
  /** Whether another attempt may succeed (BullMQ retries it) or the input can never work. */
  retryable: boolean;
}

export function encodeJobFailure(failure: JobFailure): string {
  return JSON.stringify({ code: failure.code, message: failure.message, retryable: failure.retryable });
}

/** Reasons stored as "CODE: message" before failures were JSON; kept jobs expire after KEEP_FINISHED_SEC. */
const LEGACY_REASON = /^(VC_ERR_[A-Z_]+): ?(.*)$/s;

/**
 * The one decoder of a job's failure (its `failedReason`, or the message of the error a `failed`
 * event carries). Text that is not ours (BullMQ's own, like a stalled job's) is VC_ERR_INTERNAL.
 */
export function decodeJobFailure(reason: string | undefined): JobFailure | undefined {
  if (!reason) return undefined;
  if (reason.startsWith('{')) {
    try {
      const f = JSON.parse(reason) as Partial<JobFailure>;
      if (typeof f.code === 'string' && f.code.startsWith('VC_ERR_') && typeof f.message === 'string')
        return { code: f.code, message: f.message, retryable: f.retryable === true };
    } catch {
      // not ours: read as text below
    }
  }
  const legacy = LEGACY_REASON.exec(reason);
  if (legacy) return { code: legacy[1] as ErrorCode, message: legacy[2], retryable: false };
  return { code: 'VC_ERR_INTERNAL', message: reason, retryable: false };
}
