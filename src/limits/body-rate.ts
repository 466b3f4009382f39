import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UploadTooSlowError } from '../errors/index.js';

/** The body's arrival rate is measured over windows of this length. */
export const BODY_RATE_WINDOW_MS = 5000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on upload routes: rejects once the body arrives slower than UPLOAD_MIN_BYTES_PER_SEC. */
    bodyRate: BodyRateGuard | undefined;
  }
}

/**
 * Watches one request's body as it arrives (the socket's bytes read, per window). A body that
 * stalls or trickles below `minBytesPerSec` over a whole window trips the guard: `tripped`
 * rejects with UploadTooSlowError and each registered stream is destroyed with it, so whatever
 * the handler awaits fails with a 400 it can answer (not 408, which browsers send again). Stops by itself once the body is complete.
 */
export class BodyRateGuard {
  readonly tripped: Promise<never>;
  private readonly streams = new Set<{ destroy(err: Error): void }>();
  private readonly timer: NodeJS.Timeout;
  private reject!: (err: Error) => void;
  private lastBytes: number;

  constructor(
    private readonly request: FastifyRequest,
    reply: FastifyReply,
    private readonly socket: Socket,
    private readonly minBytesPerSec: number,
  ) {
    this.tripped = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    this.tripped.catch(() => {});
    this.lastBytes = socket.bytesRead;
    this.timer = setInterval(() => this.check(reply), BODY_RATE_WINDOW_MS);
    this.timer.unref();
    reply.raw.once('close', () => this.stop());
  }

  /** Destroys `stream` with the guard's error if it trips. */
  watch(stream: { destroy(err: Error): void }): void {
    this.streams.add(stream);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(reply: FastifyReply): void {
    if (this.request.raw.complete) {
      this.stop();
      return;
    }
    const bytes = this.socket.bytesRead;
    const rate = ((bytes - this.lastBytes) * 1000) / BODY_RATE_WINDOW_MS;
    this.lastBytes = bytes;
    if (rate >= this.minBytesPerSec) return;
    this.stop();
    // The rest of the body is never read: the connection closes after the answer.
    reply.header('connection', 'close');
    const err = new UploadTooSlowError(this.minBytesPerSec);
    this.request.log.info({ bytesPerSec: Math.round(rate) }, 'upload too slow; cut off');
    this.reject(err);
    for (const s of this.streams) s.destroy(err);
  }
}
