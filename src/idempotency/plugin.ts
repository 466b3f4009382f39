import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  ConflictError,
  IdempotencyMismatchError,
  TooLargeError,
  UnauthorizedError,
  ValidationError,
} from '../errors/index.js';
import { boundaryOf, jsonFingerprint, MultipartHasher } from './fingerprint.js';
import { IdempotencyStore } from './store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set while this request holds an Idempotency-Key claim. */
    idempotency: { redisKey: string; fingerprint?: string; hasher?: MultipartHasher } | undefined;
  }
}

/** The routes that honour `Idempotency-Key`, as "METHOD url". */
export const IDEMPOTENT_ROUTES = ['POST /api/jobs', 'POST /api/uploads', 'POST /api/voices'];

/**
 * True for a request that carries an Idempotency-Key on one of IDEMPOTENT_ROUTES: its rate limits
 * are counted by this plugin once the key shows it is not a replay (a client retrying after a
 * timeout must not be refused with 429 for the job it already has).
 */
export function carriesIdempotencyKey(request: FastifyRequest): boolean {
  return (
    request.headers['idempotency-key'] !== undefined &&
    IDEMPOTENT_ROUTES.includes(`${request.method} ${request.routeOptions.url}`)
  );
}

/** Printable ASCII, 1-255 characters (a UUID, a hash, a client's own request id). */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyOptions {
  /** How long a duplicate waits for the first request's answer before a 409. Default 60 s. */
  waitMs?: number;
  /** How long answers are replayed. Default 24 h. */
  ttlMs?: number;
}

/** Feeds every chunk the body parser reads to `hasher`, without reading anything itself. */
function tap(raw: IncomingMessage, hasher: MultipartHasher): MultipartHasher {
  const emit = raw.emit.bind(raw);
  raw.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'data' && Buffer.isBuffer(args[0])) hasher.update(args[0]);
    return emit(event, ...args);
  }) as typeof raw.emit;
  return hasher;
}

/** Reads a duplicate's own body to the end (it is never parsed) and hashes it. */
async function hashBody(raw: IncomingMessage, hasher: MultipartHasher, maxBytes: number): Promise<string> {
  let bytes = 0;
  for await (const chunk of raw) {
    bytes += (chunk as Buffer).length;
    if (bytes > maxBytes) throw new TooLargeError('the body is over the upload size limit');
    hasher.update(chunk as Buffer);
  }
  return hasher.digest();
}

/**
 * `Idempotency-Key` on the routes of IDEMPOTENT_ROUTES (Stripe's semantics): the first request
 * with a key runs; a later one from the same user with the same key and the same body gets the
 * first answer replayed (same status, same body, header `idempotent-replayed: true`) for 24 h; with
 * another body, `409 VC_ERR_IDEMPOTENCY_MISMATCH`. A duplicate that arrives while the first runs
 * waits for its answer. Only 2xx answers are kept: after a refusal the key is free again, so a
 * client may retry a 429 or a 503 with the same key. A replay is not counted against the rate
 * limits (the route group's hook leaves keyed requests to this plugin); every other answer is. Nor
 * does it take an upload slot: only a request that claims its key does (`takeDeferredUploadSlot`).
 */
export const idempotencyPlugin = fp(
  async (app: FastifyInstance, opts: IdempotencyOptions) => {
    const store = new IdempotencyStore(app.redis, app.config.redisPrefix, { ttlMs: opts.ttlMs });
    const waitMs = opts.waitMs ?? 60_000;
    const routes = new Set(IDEMPOTENT_ROUTES);
    app.decorateRequest('idempotency', undefined);

    const replay = (
      request: FastifyRequest,
      reply: FastifyReply,
      record: { status: number; contentType: string; body: string },
    ) => {
      request.log.info({ status: record.status }, 'idempotent request replayed');
      return reply
        .status(record.status)
        .header('content-type', record.contentType)
        .header('idempotent-replayed', 'true')
        .send(record.body);
    };

    // preValidation, not preHandler: a keyed request whose body fails the schema is counted too.
    app.addHook('preValidation', async (request, reply) => {
      const header = request.headers['idempotency-key'];
      const route = `${request.method} ${request.routeOptions.url}`;
      if (header === undefined || !routes.has(route)) return;
      // Every answer but a replay counts against the rate limits, as a request without a key does.
      const count = () => app.enforceRateLimits(request, reply);
      if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
        await count();
        throw new ValidationError('the Idempotency-Key header must be 1-255 printable ASCII characters');
      }
      const userId = request.principal?.userId;
      if (!userId) throw new UnauthorizedError();
      const redisKey = store.keyOf(userId, header);
      const multipart = request.isMultipart();
      const boundary = boundaryOf(request.headers['content-type']) ?? '';
      let fingerprint = multipart ? undefined : jsonFingerprint(route, request.body);
      const deadline = Date.now() + waitMs;
      for (;;) {
        if (await store.claim(redisKey, fingerprint)) {
          request.idempotency = { redisKey, fingerprint };
          // A refusal here (429) frees the claim again in onSend, as any non-2xx answer does.
          await count();
          // Only a request that runs takes an upload slot: a replay reads no upload.
          await app.takeDeferredUploadSlot(request, reply);
          // Hashed as the parser reads it; tapped only now, so a refused request's unread body is never hashed.
          if (multipart && !fingerprint)
            request.idempotency.hasher = tap(request.raw, new MultipartHasher(route, boundary));
          return;
        }
        // A duplicate upload is never parsed: its own bytes decide whether it is the same request.
        if (fingerprint === undefined)
          fingerprint = await hashBody(
            request.raw,
            new MultipartHasher(route, boundary),
            app.config.uploadMaxBytes + 1024 * 1024,
          );
        const record = await store.get(redisKey);
        if (record?.fingerprint !== undefined && record.fingerprint !== fingerprint) {
          await count();
          throw new IdempotencyMismatchError();
        }
        if (record?.state === 'done') return replay(request, reply, record);
        if (Date.now() > deadline) {
          await count();
          throw new ConflictError('a request with this Idempotency-Key is still running; retry later');
        }
        // Pending: wait for its answer. Gone: the first one failed and gave the key back; claim it.
        if (record) await new Promise((r) => setTimeout(r, 50));
      }
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const held = request.idempotency;
      if (!held) return payload;
      request.idempotency = undefined;
      const ok = reply.statusCode >= 200 && reply.statusCode < 300;
      // A refusal's body may still be arriving: its hash is never finished (nor needed).
      const fingerprint = ok ? (held.fingerprint ?? held.hasher?.digest()) : undefined;
      if (ok && typeof payload === 'string' && fingerprint)
        await store.complete(held.redisKey, {
          state: 'done',
          fingerprint,
          status: reply.statusCode,
          contentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
          body: payload,
        });
      else await store.release(held.redisKey);
      return payload;
    });
  },
  { name: 'vcfarm-idempotency', dependencies: ['vcfarm-redis', 'vcfarm-rate-limits', 'vcfarm-upload-slots'] },
);
