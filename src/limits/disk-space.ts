import { statfs } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { InsufficientStorageError } from '../errors/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Throws 507 VC_ERR_INSUFFICIENT_STORAGE on routes that write (uploads, jobs, voices) while DATA_DIR is low on space. */
    assertFreeSpace(request: FastifyRequest): Promise<void>;
  }
}

/** statfs at most this often: uploads in a burst share one reading. */
const CACHE_MS = 1000;

/** Free bytes for unprivileged writers on the volume holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * Refuses new uploads and jobs below MIN_FREE_DISK_BYTES on DATA_DIR's volume, before a full disk
 * turns into failed writes half-way (a partial upload, an encoder stopped by ENOSPC, Redis's AOF).
 * Routes that write are those with a `rateClass` (uploads, conversions, voice clones).
 */
export const diskSpacePlugin = fp(
  async (app: FastifyInstance) => {
    const min = app.config.minFreeDiskBytes;
    let reading: { at: number; free: Promise<number> } | undefined;
    const current = () => {
      if (!reading || Date.now() - reading.at > CACHE_MS) {
        const free = freeBytes(app.config.dataDir).catch(() => Number.POSITIVE_INFINITY);
        reading = { at: Date.now(), free };
      }
      return reading.free;
    };
    app.decorate('assertFreeSpace', async (request: FastifyRequest) => {
      if (min <= 0 || !request.routeOptions.config?.rateClass) return;
      const free = await current();
      if (free < min) {
        request.log.warn({ freeBytes: free, minFreeBytes: min }, 'refused: the data volume is low on space');
        throw new InsufficientStorageError();
      }
    });
  },
  { name: 'vcfarm-disk-space', dependencies: ['vcfarm-config'] },
);
