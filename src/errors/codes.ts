/**
 * Every error code with what answers it (an HTTP status, a job's error, start-up) and what it
 * means: the source of ARCHITECTURE.md's error table (`node dist/scripts/error-table.js --write`;
 * test/unit/error-table.test.ts fails when the two differ).
 */
export const ERROR_CODES = {
  VC_ERR_VALIDATION: {
    answer: '400',
    meaning:
      'body, params or query do not match the schema (the message names the field and says in words what it must be, never a pattern)',
  },
  VC_ERR_UNAUTHORIZED: { answer: '401', meaning: 'missing or unknown bearer token' },
  VC_ERR_FORBIDDEN: {
    answer: '403',
    meaning: 'authenticated but not allowed; a result link that was altered or has expired',
  },
  VC_ERR_NOT_FOUND: { answer: '404', meaning: "no such resource, or another user's" },
  VC_ERR_IDEMPOTENCY_MISMATCH: {
    answer: '409',
    meaning: 'an Idempotency-Key reused with a different request (method, path or body)',
  },
  VC_ERR_JOB_NOT_FINISHED: {
    answer: '409',
    meaning:
      "the result of a job still queued or running was asked for (the message gives the job's state); follow the job (GET /api/jobs/:id or the WebSocket) and ask once it has completed",
  },
  VC_ERR_JOB_FINISHED: {
    answer: '409',
    meaning:
      'a cancel (`DELETE /api/jobs/:id`) of a job that had already completed or failed: nothing was cancelled (the message gives its state; a job already cancelled answers 200 as cancelled)',
  },
  VC_ERR_CONFLICT: {
    answer: '409',
    meaning:
      'the resource is busy: an upload or a voice a queued or running job needs, a voice still being analysed; an account name already taken',
  },
  VC_ERR_METHOD_NOT_ALLOWED: {
    answer: '405',
    meaning:
      'a route asked with a method it does not take (`PUT /api/jobs`); the `Allow` header lists those it does',
  },
  VC_ERR_TOO_LARGE: { answer: '413', meaning: 'upload or body over the limit' },
  VC_ERR_RANGE_NOT_SATISFIABLE: {
    answer: '416',
    meaning:
      "a valid `Range` that starts past the end of the file (a result, an upload's audio, a preview); `Content-Range: bytes */<size>` gives the file's size. An invalid `Range` (a last position below the first, or not a range at all) is ignored: the whole file, 200",
  },
  VC_ERR_UNSUPPORTED_AUDIO: {
    answer: '415',
    meaning: 'not an accepted audio file (container, streams, rate, channels, duration, empty)',
  },
  VC_ERR_UNSUPPORTED_MEDIA_TYPE: {
    answer: '415',
    meaning:
      'a request body of a content type the route does not take (an upload or voice that is not `multipart/form-data`, a JSON route sent XML)',
  },
  VC_ERR_HEADERS_TOO_LARGE: {
    answer: '431',
    meaning: "the request's headers exceed the HTTP server's limit (Node's 16 KB); answered before any route",
  },
  VC_ERR_UNDECODABLE_AUDIO: {
    answer: 'job error',
    meaning: "the file passed the probe but does not decode (ffmpeg's own words only in the worker's log)",
  },
  VC_ERR_PIPELINE: { answer: 'job error / 500', meaning: 'ffmpeg failed for another reason (retried)' },
  VC_ERR_CANCELLED: {
    answer: 'job state `cancelled`',
    meaning:
      'cancelled by the user, or by an operator (the admin routes, a removed account): the message says which',
  },
  VC_ERR_WORKER_STOPPED: {
    answer: 'job error (retried)',
    meaning:
      'the worker stopped while the job ran (its job grace ran out on SIGTERM, or its parent is gone); the attempt is retried',
  },
  VC_ERR_UNAVAILABLE: {
    answer: '503',
    meaning:
      'Redis or another dependency is unreachable, or the instance sheds load (event-loop delay, `WS_MAX_SOCKETS`); `Retry-After` says when to retry',
  },
  VC_ERR_CONFIG: { answer: 'start-up', meaning: 'a bad environment variable' },
  VC_ERR_RATE_LIMITED: {
    answer: '429',
    meaning: 'a rate limit is reached (`Retry-After` says when to retry)',
  },
  VC_ERR_QUOTA_EXCEEDED: {
    answer: '413 / job error',
    meaning:
      "the workspace's byte or file quota, counting a new job's largest possible output and the outputs unfinished jobs may still write; the message gives limit and usage. As a job error: the output reached what was left of the quota and was removed (not retried)",
  },
  VC_ERR_AUDIO_TOO_LONG: {
    answer: '413',
    meaning: 'the audio lasts (by its header, or decoded) longer than the plan allows',
  },
  VC_ERR_TOO_MANY_JOBS: { answer: '429', meaning: "the plan's number of queued jobs is reached" },
  VC_ERR_SESSIONS_DISABLED: { answer: '403', meaning: '`POST /api/session` while `AUTH_MODE=keys`' },
  VC_ERR_MODEL_BROKEN: {
    answer: '409 / job error',
    meaning: "the job's model folder is listed `broken` in `GET /api/models` (the message says why)",
  },
  VC_ERR_MODEL_MANIFEST: {
    answer: 'job error',
    meaning: "the model's graphs disagree with its manifest (the message names graph and input)",
  },
  VC_ERR_MODEL_RUN: {
    answer: 'job error',
    meaning:
      "a graph of the model failed inside ONNX Runtime (the message names the graph; ORT's text goes to no one)",
  },
  VC_ERR_TOO_MANY_UPLOADS: {
    answer: '429',
    meaning: 'the user already has `UPLOADS_PER_USER` uploads in flight on this instance',
  },
  VC_ERR_MALFORMED_MULTIPART: {
    answer: '400',
    meaning: 'a multipart body without a boundary, cut short, or otherwise unparseable',
  },
  VC_ERR_MALFORMED_JSON: {
    answer: '400',
    meaning:
      'a body sent as `application/json` that does not parse (cut short, not JSON at all, empty), or holds a `__proto__` or `constructor.prototype` key (refused as unsafe)',
  },
  VC_ERR_UPLOAD_TOO_SLOW: {
    answer: '400',
    meaning:
      "an upload's body arrived slower than `UPLOAD_MIN_BYTES_PER_SEC` over 5 s; cut off, the connection closed (400, not 408: browsers and `curl --retry` send a request answered 408 again)",
  },
  VC_ERR_REQUEST_TIMEOUT: {
    answer: '400',
    meaning:
      'a request (head and body) did not arrive in full within `REQUEST_TIMEOUT_MS`; cut off, the connection closed (400, not 408, as above)',
  },
  VC_ERR_INSUFFICIENT_STORAGE: {
    answer: '507',
    meaning:
      'an upload, voice reference or job while the data volume has less than `MIN_FREE_DISK_BYTES` free',
  },
  VC_ERR_NO_VOICE: {
    answer: 'job error',
    meaning:
      "a clone's reference recording holds no speech to clone: too little voiced speech (silence, noise), or a pitch that stays fixed as a tone's, a hum's or a beep's does (speech's moves all the time)",
  },
  VC_ERR_VOICE_PROFILE: {
    answer: 'job error',
    meaning:
      "a voice profile does not fit the job's model (sample rate, a field missing or mis-sized, envelope statistics over another band)",
  },
  VC_ERR_ENGINE_OPTIONS: {
    answer: 'job error',
    meaning: 'the engine was given options it cannot use (a bug, not the input)',
  },
  VC_ERR_CONVERTER_STATE: {
    answer: 'job error',
    meaning: 'a converter was used after it was flushed (a bug, not the input)',
  },
  VC_ERR_INTERNAL: { answer: '500', meaning: 'anything else; details only in the log' },
} as const satisfies Record<string, { answer: string; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_TABLE_BEGIN = '<!-- error table: generated from src/errors/codes.ts -->';
export const ERROR_TABLE_END = '<!-- end of error table -->';

/** The Markdown table of ERROR_CODES, between its markers. */
export function errorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, e]) => `| \`${code}\` | ${e.answer} | ${e.meaning} |`);
  return [
    ERROR_TABLE_BEGIN,
    '',
    '| Code | HTTP | Meaning |',
    '|---|---|---|',
    ...rows,
    '',
    ERROR_TABLE_END,
  ].join('\n');
}
