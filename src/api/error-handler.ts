import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorCode, InsufficientStorageError, VcError } from '../errors/index.js';
import { isClusterUnavailable } from '../redis/core.js';
import { redisFault } from '../redis/faults.js';
import { typeWords } from '../validation/index.js';
import { patternWords } from './fields.js';

/** The one map from error code to HTTP status (also listed in the OpenAPI document). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VC_ERR_CONFIG: 500,
  VC_ERR_VALIDATION: 400,
  VC_ERR_UNAUTHORIZED: 401,
  VC_ERR_FORBIDDEN: 403,
  VC_ERR_NOT_FOUND: 404,
  VC_ERR_METHOD_NOT_ALLOWED: 405,
  VC_ERR_CONFLICT: 409,
  VC_ERR_JOB_NOT_FINISHED: 409,
  VC_ERR_JOB_FINISHED: 409,
  VC_ERR_TOO_LARGE: 413,
  VC_ERR_RANGE_NOT_SATISFIABLE: 416,
  VC_ERR_UNSUPPORTED_AUDIO: 415,
  VC_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  VC_ERR_HEADERS_TOO_LARGE: 431,
  VC_ERR_RATE_LIMITED: 429,
  VC_ERR_UNAVAILABLE: 503,
  VC_ERR_UNDECODABLE_AUDIO: 422,
  VC_ERR_CANCELLED: 409,
  VC_ERR_PIPELINE: 500,
  VC_ERR_WORKER_STOPPED: 503,
  VC_ERR_QUOTA_EXCEEDED: 413,
  VC_ERR_AUDIO_TOO_LONG: 413,
  VC_ERR_TOO_MANY_JOBS: 429,
  VC_ERR_SESSIONS_DISABLED: 403,
  VC_ERR_INSUFFICIENT_STORAGE: 507,
  VC_ERR_TOO_MANY_UPLOADS: 429,
  VC_ERR_MALFORMED_MULTIPART: 400,
  VC_ERR_MALFORMED_JSON: 400,
  VC_ERR_MODEL_BROKEN: 409,
  VC_ERR_MODEL_MANIFEST: 409,
  VC_ERR_MODEL_RUN: 500,
  VC_ERR_UPLOAD_TOO_SLOW: 400,
  VC_ERR_REQUEST_TIMEOUT: 400,
  VC_ERR_NO_VOICE: 422,
  VC_ERR_VOICE_PROFILE: 409,
  VC_ERR_ENGINE_OPTIONS: 500,
  VC_ERR_CONVERTER_STATE: 500,
  VC_ERR_IDEMPOTENCY_MISMATCH: 409,
  VC_ERR_INTERNAL: 500,
};

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Where a refused field sits in the request, in the API reference's words. */
const CONTEXT_WORDS: Record<string, string> = {
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
};

/**
 * "outputFormat must be one of wav, mp3" rather than ajv's terse text: the field is always
 * named, and a pattern is said in words.
 */
export function validationMessage(err: FastifyError): string {
  const issue = (err.validation as AjvIssue[] | undefined)?.[0];
  if (!issue) return err.message;
  // A body's field by its name ("strength"), a query's or a path's with where it is ("query
  // parameter limit"), never Fastify's own names for those parts ("querystring", "params").
  const field = issue.instancePath.split('/').filter(Boolean).join('.');
  const where =
    err.validationContext === 'body' || err.validationContext === undefined
      ? field || 'the body'
      : `${CONTEXT_WORDS[err.validationContext] ?? err.validationContext}${field ? ` ${field}` : ''}`;
  switch (issue.keyword) {
    case 'required':
      return `${within(where, String(issue.params.missingProperty))} is required`;
    case 'minimum':
    case 'maximum':
      return `${where} must be at ${issue.keyword === 'minimum' ? 'least' : 'most'} ${String(issue.params.limit)}`;
    case 'additionalProperties':
      return Object.values(CONTEXT_WORDS).includes(where)
        ? `unknown ${where} "${String(issue.params.additionalProperty)}"`
        : `${where} has an unknown field "${String(issue.params.additionalProperty)}"`;
    case 'enum':
      return `${where} must be one of ${(issue.params.allowedValues as unknown[]).join(', ')}`;
    case 'const':
      return `${where} must be ${JSON.stringify(issue.params.allowedValue)}`;
    case 'type':
      return `${where} must be ${typeWords(issue.params.type)}`;
    case 'minItems':
      return `${where} must list at least ${counted(issue.params.limit, 'item')}`;
    case 'maxItems':
      return `${where} must list at most ${counted(issue.params.limit, 'item')}`;
    case 'uniqueItems':
      return `${where} must not list the same item twice`;
    case 'minLength':
      return `${where} must be at least ${counted(issue.params.limit, 'character')} long`;
    case 'maxLength':
      return `${where} must be at most ${counted(issue.params.limit, 'character')} long`;
    case 'format':
      return `${where} must be ${FORMAT_WORDS[String(issue.params.format)] ?? 'in the form the API reference gives'}`;
    // What the value should be, in words; never the pattern (src/api/fields.ts).
    case 'pattern':
      return `${where} must be ${patternWords(String(issue.params.pattern)) ?? 'in the form the API reference gives'}`;
    default:
      return `${where} ${issue.message ?? 'is invalid'}`;
  }
}

/** A schema `format`, in words ("must be a UUID ..."), never ajv's "must match format". */
const FORMAT_WORDS: Record<string, string> = {
  uuid: 'a UUID: 32 hexadecimal digits in groups of 8-4-4-4-12, separated by "-"',
};

/** A field inside `where`: "name" in the body, "options.name" in a body field, "query parameter exp". */
function within(where: string, name: string): string {
  if (where === 'the body') return name;
  return Object.values(CONTEXT_WORDS).includes(where) ? `${where} ${name}` : `${where}.${name}`;
}

/** "1 item", "2 items". */
function counted(n: unknown, noun: string): string {
  return `${String(n)} ${noun}${Number(n) === 1 ? '' : 's'}`;
}

/** Seconds a client is told to wait when Redis refuses writes or cannot be reached. */
export const REDIS_FAULT_RETRY_AFTER_SEC = 5;

/**
 * An error from the Redis client that no route turned into a VcError: Redis refusing writes
 * (MISCONF, READONLY, OOM, NOREPLICAS: a reply error) or the connection gone (ioredis gave up on
 * the command; on a cluster, also while a replica is being promoted). Either is the dependency's
 * state, not a bug: 503 with Retry-After, never 500.
 */
function fromRedis(err: Error): { status: number; code: ErrorCode; message: string } | undefined {
  if (err.name === 'ReplyError' && redisFault(err)) {
    return {
      status: 503,
      code: 'VC_ERR_UNAVAILABLE',
      message: 'the service cannot store data right now; try again shortly',
    };
  }
  if (
    err.name === 'MaxRetriesPerRequestError' ||
    /^Connection is closed\.?$/.test(err.message) ||
    isClusterUnavailable(err)
  ) {
    return {
      status: 503,
      code: 'VC_ERR_UNAVAILABLE',
      message: 'the data store is unreachable; try again shortly',
    };
  }
  return undefined;
}

/** The generic code of a 4xx status, for Fastify's own refusals. */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'VC_ERR_VALIDATION',
  401: 'VC_ERR_UNAUTHORIZED',
  403: 'VC_ERR_FORBIDDEN',
  404: 'VC_ERR_NOT_FOUND',
  409: 'VC_ERR_CONFLICT',
  413: 'VC_ERR_TOO_LARGE',
  415: 'VC_ERR_UNSUPPORTED_MEDIA_TYPE',
  416: 'VC_ERR_RANGE_NOT_SATISFIABLE',
  429: 'VC_ERR_RATE_LIMITED',
};

/** The refused body's media type as the client sent it (no parameters), for the message. */
function mediaTypeWords(contentType: string | undefined): string {
  const type = contentType?.split(';')[0].trim().slice(0, 100);
  return type ? `a body of type "${type}"` : 'a body without a content type';
}

const MULTIPART_SHAPE = 'too many parts: send one file (field "file"), and with a voice its "name"';

/** Codes Fastify and its plugins use, folded into ours. */
function fromFastify(
  err: FastifyError,
  contentType: string | undefined,
): { status: number; code: ErrorCode; message: string } | undefined {
  if (err.validation) return { status: 400, code: 'VC_ERR_VALIDATION', message: validationMessage(err) };
  switch (err.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'VC_ERR_TOO_LARGE', message: err.message };
    // The plugin's own words ("reach files limit") tell a user nothing of what to change.
    // A second file is the body's shape, not its size: a 400 (the parts' and fields' counts, 413).
    case 'FST_FILES_LIMIT':
      return { status: 400, code: 'VC_ERR_VALIDATION', message: MULTIPART_SHAPE };
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return { status: 413, code: 'VC_ERR_TOO_LARGE', message: MULTIPART_SHAPE };
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'VC_ERR_UNSUPPORTED_MEDIA_TYPE',
        message: `this route does not take ${mediaTypeWords(contentType)}`,
      };
    // Fastify's words ("Body is not valid JSON but content-type is set to ...") name its own settings.
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        code: 'VC_ERR_MALFORMED_JSON',
        message: 'the request body is empty but its content type is JSON',
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'VC_ERR_MALFORMED_JSON', message: 'the request body is not valid JSON' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_PROTO_VIOLATION':
      return { status: 400, code: 'VC_ERR_VALIDATION', message: err.message };
    default: {
      if (!err.statusCode || err.statusCode < 400 || err.statusCode >= 500) return undefined;
      // Another 4xx of Fastify's: the code of that status, so that status and code agree with
      // HTTP_STATUS as every other answer does; a status with no code of its own is a 400.
      const code = CODE_OF_STATUS[err.statusCode] ?? 'VC_ERR_VALIDATION';
      return { status: HTTP_STATUS[code], code, message: err.message };
    }
  }
}

const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Whether `method path` reaches a route of its own (the page's catch-all static files do not count). */
function routedHere(app: FastifyInstance, method: string, path: string): boolean {
  const route = app.findRoute({ method: method as 'GET', url: path });
  return route !== null && !(route.params && '*' in route.params);
}

/** The one place where errors become HTTP responses `{ error, message }`. 5xx details go to the log only. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let status = 500;
    let code: ErrorCode = 'VC_ERR_INTERNAL';
    let message = 'internal error';
    if (err instanceof VcError) {
      status = HTTP_STATUS[err.code];
      code = err.code;
      // The routes' own checks name a body field as its schema error does: "name", not "body.name".
      message = code === 'VC_ERR_VALIDATION' ? err.message.replace(/(^|[\s(])body\./g, '$1') : err.message;
    } else if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      // The volume filled between the free-space check and the write: the same answer as the check's.
      const full = new InsufficientStorageError();
      ({ status, code, message } = {
        status: HTTP_STATUS[full.code],
        code: full.code,
        message: full.message,
      });
    } else {
      const mapped = fromRedis(err) ?? fromFastify(err, request.headers['content-type']);
      if (mapped) ({ status, code, message } = mapped);
    }
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      // 503 and 507 tell the client to come back later (fixed texts, no detail); other 5xx show nothing.
      const keep = code === 'VC_ERR_UNAVAILABLE' || code === 'VC_ERR_INSUFFICIENT_STORAGE';
      if (code === 'VC_ERR_UNAVAILABLE' && !reply.hasHeader('retry-after')) {
        reply.header('retry-after', String(REDIS_FAULT_RETRY_AFTER_SEC));
      }
      if (!keep) message = 'internal error';
    } else {
      // The cause (ffmpeg's words, a parser's error) may name server paths: the log has it, the client not.
      const cause = (err as { cause?: unknown }).cause;
      request.log.info(
        { code, status, reason: message, ...(cause instanceof Error ? { detail: cause.message } : {}) },
        'request rejected',
      );
    }
    void reply.status(status).send({ error: code, message });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    // A route that exists, asked with another method: 405 naming those it takes, not "no route".
    const allowed = ROUTE_METHODS.filter((m) => m !== request.method && routedHere(app, m, path));
    if (allowed.length > 0) {
      const code: ErrorCode = 'VC_ERR_METHOD_NOT_ALLOWED';
      void reply
        .status(HTTP_STATUS[code])
        .header('allow', allowed.join(', '))
        .send({ error: code, message: `${path} takes ${allowed.join(', ')}, not ${request.method}` });
      return;
    }
    void reply.status(404).send({ error: 'VC_ERR_NOT_FOUND', message: `no route ${request.method} ${path}` });
  });
}
