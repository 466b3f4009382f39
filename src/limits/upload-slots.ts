import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { TooManyUploadsError, UnauthorizedError, UnavailableError } from '../errors/index.js';
import { type RedisClient, redisScript } from '../redis/core.js';
import { BodyRateGuard } from './body-rate.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Route hook for upload routes (after authentication): takes one of the caller's
     * UPLOADS_PER_USER slots, counted in Redis across every API instance, or answers 429
     * VC_ERR_TOO_MANY_UPLOADS. The slot is given back when the response is sent or the
     * connection closes, whichever comes first. Also starts the request's BodyRateGuard
     * (UPLOAD_MIN_BYTES_PER_SEC).
     */
    takeUploadSlot(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /**
     * For a request with an Idempotency-Key, `takeUploadSlot` defers: the idempotency plugin calls this
     * once the key shows the request runs (not a replay, which answers from Redis and reads no upload),
     * so a client retrying at its limit is not refused a 429 for an upload it already has.
     */
    takeDeferredUploadSlot(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
  interface FastifyRequest {
    /** Set by `takeUploadSlot` on a keyed request: its slot waits for `takeDeferredUploadSlot`. */
    uploadSlotDeferred: boolean;
  }
}

/**
 * Expired leases out, then one more if there is room. Redis's own clock: every instance agrees
 * on when a lease ends. Returns 1 when taken.
 */
const ACQUIRE = redisScript(
  'vcfarmUploadAcquire',
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
);

/** Extends a lease still held (XX: a lease that expired and was swept is not brought back). */
const RENEW = redisScript(
  'vcfarmUploadRenew',
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1`,
);

/**
 * Uploads in flight per user, across every API instance: a sorted set per user in Redis, one
 * member per upload, scored with the end of its lease. A running upload renews its lease every
 * third of it; an instance that dies mid-upload gives its slots back when their leases end.
 */
export class UploadSlots {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    readonly max: number,
    readonly leaseMs: number,
  ) {}

  private key(userId: string): string {
    return `${this.prefix}:uploads:${userId}`;
  }

  /** A slot id, or undefined when the user has `max` uploads in flight. */
  async acquire(userId: string): Promise<string | undefined> {
    const id = randomUUID();
    const ok = await ACQUIRE(this.redis, [this.key(userId)], [this.max, this.leaseMs, id]);
    return ok === 1 ? id : undefined;
  }

  async renew(userId: string, id: string): Promise<void> {
    await RENEW(this.redis, [this.key(userId)], [this.leaseMs, id]);
  }

  async release(userId: string, id: string): Promise<void> {
    await this.redis.zrem(this.key(userId), id);
  }
}

export const uploadSlotsPlugin = fp(
  async (app: FastifyInstance) => {
    const slots = new UploadSlots(
      app.redisFailFast,
      app.config.redisPrefix,
      app.config.uploadsPerUser,
      app.config.uploadSlotLeaseMs,
    );
    app.decorateRequest('bodyRate', undefined);
    app.decorateRequest('uploadSlotDeferred', false);
    const take = async (request: FastifyRequest, reply: FastifyReply) => {
      const userId = request.principal?.userId;
      if (!userId) throw new UnauthorizedError();
      const id = await slots.acquire(userId).catch((err) => {
        throw new UnavailableError('upload slots cannot be checked right now; try again shortly', {
          cause: err,
        });
      });
      if (!id) throw new TooManyUploadsError(slots.max);
      // Renewed while the upload runs; a failed renewal is retried at the next tick (the lease
      // outlives two missed ones).
      const renewal = setInterval(
        () => void slots.renew(userId, id).catch(() => {}),
        Math.floor(slots.leaseMs / 3),
      );
      renewal.unref();
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        clearInterval(renewal);
        // If Redis cannot be told now, the lease ends by itself.
        slots
          .release(userId, id)
          .catch((err) =>
            request.log.warn(
              { err: (err as Error).message },
              'upload slot not released; its lease will end it',
            ),
          );
      };
      reply.raw.once('close', release);
      reply.raw.once('finish', release);
      request.bodyRate = new BodyRateGuard(
        request,
        reply,
        request.raw.socket,
        app.config.uploadMinBytesPerSec,
      );
    };
    app.decorate('takeUploadSlot', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.headers['idempotency-key'] !== undefined) request.uploadSlotDeferred = true;
      else await take(request, reply);
    });
    app.decorate('takeDeferredUploadSlot', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!request.uploadSlotDeferred) return;
      request.uploadSlotDeferred = false;
      await take(request, reply);
    });
  },
  { name: 'vcfarm-upload-slots', dependencies: ['vcfarm-config', 'vcfarm-redis-failfast'] },
);
