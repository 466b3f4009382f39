import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { TooManyUploadsError, UnauthorizedError } from '../errors/index.js';
import { BodyRateGuard } from './body-rate.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Route hook for upload routes (after authentication): takes one of the caller's
     * UPLOADS_PER_USER slots on this instance, or answers 429 VC_ERR_TOO_MANY_UPLOADS. The slot is
     * given back when the response is sent or the connection closes, whichever comes first.
     * Also starts the request's BodyRateGuard (UPLOAD_MIN_BYTES_PER_SEC).
     */
    takeUploadSlot(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
}

/** Uploads in progress per user on this instance. */
export class UploadSlots {
  private readonly inUse = new Map<string, number>();
  constructor(readonly max: number) {}

  acquire(userId: string): boolean {
    const n = this.inUse.get(userId) ?? 0;
    if (n >= this.max) return false;
    this.inUse.set(userId, n + 1);
    return true;
  }

  release(userId: string): void {
    const n = (this.inUse.get(userId) ?? 1) - 1;
    if (n <= 0) this.inUse.delete(userId);
    else this.inUse.set(userId, n);
  }
}

export const uploadSlotsPlugin = fp(
  async (app: FastifyInstance) => {
    const slots = new UploadSlots(app.config.uploadsPerUser);
    app.decorateRequest('bodyRate', undefined);
    app.decorate('takeUploadSlot', async (request: FastifyRequest, reply: FastifyReply) => {
      const userId = request.principal?.userId;
      if (!userId) throw new UnauthorizedError();
      if (!slots.acquire(userId)) throw new TooManyUploadsError(slots.max);
      let held = true;
      const release = () => {
        if (held) slots.release(userId);
        held = false;
      };
      reply.raw.once('close', release);
      reply.raw.once('finish', release);
      request.bodyRate = new BodyRateGuard(
        request,
        reply,
        request.raw.socket,
        app.config.uploadMinBytesPerSec,
      );
    });
  },
  { name: 'vcfarm-upload-slots', dependencies: ['vcfarm-config'] },
);
