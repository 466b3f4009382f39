import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, TooLargeError, UnsupportedAudioError } from '../errors/index.js';
import {
  type AudioInfo,
  assertDurationsAgree,
  assertWavHeaderHonest,
  measureDecodedDuration,
  probeAudio,
} from '../media/index.js';
import { ensureWorkspace, fileIn, workspaceFor } from './workspace.js';

export interface Upload extends AudioInfo {
  id: string;
  /** The client's file name: metadata only, never part of a path. */
  filename: string;
  bytes: number;
  createdAt: number;
}

export interface UploadLimits {
  maxBytes: number;
  maxDurationSec: number;
  probeTimeoutMs: number;
  /**
   * When set, the file is also decoded once and its true duration (not the header's) must be
   * within maxDurationSec; the decode pass is killed after this many milliseconds.
   */
  decodeTimeoutMs?: number;
}

/** Streams arriving with a `truncated` flag set when a size limit cut them (as @fastify/multipart does). */
export type LimitedStream = Readable & { truncated?: boolean };

function cleanFilename(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 200);
  return cleaned || 'audio';
}

/** Uploaded audio in users' workspaces: `uploads/<id>` plus its metadata in `uploads/<id>.json`. */
export class UploadStore {
  constructor(private readonly dataDir: string) {}

  /**
   * Streams `source` to a temporary name, probes it, and only then gives it its final name.
   * On any failure nothing is left behind.
   */
  async save(
    userId: string,
    source: LimitedStream,
    clientName: string,
    limits: UploadLimits,
  ): Promise<Upload> {
    const ws = await ensureWorkspace(workspaceFor(this.dataDir, userId));
    const id = randomUUID();
    const part = fileIn(ws.uploads, id, '.part');
    try {
      await pipeline(source, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
      if (source.truncated)
        throw new TooLargeError(`the upload exceeds the limit of ${limits.maxBytes} bytes`);
      const { size } = await stat(part);
      if (size === 0) throw new UnsupportedAudioError('the uploaded file is empty');
      const info = await probeAudio(part, {
        timeoutMs: limits.probeTimeoutMs,
        maxDurationSec: limits.maxDurationSec,
      });
      if (limits.decodeTimeoutMs !== undefined) {
        await assertWavHeaderHonest(part);
        const decodedSec = await measureDecodedDuration(part, {
          demuxer: info.demuxer,
          maxDurationSec: limits.maxDurationSec,
          timeoutMs: limits.decodeTimeoutMs,
        });
        assertDurationsAgree(info.demuxer, info.durationSec, decodedSec);
        info.durationSec = decodedSec;
      }
      const upload: Upload = {
        id,
        filename: cleanFilename(clientName),
        bytes: size,
        createdAt: Date.now(),
        ...info,
      };
      await writeFile(fileIn(ws.uploads, id, '.json'), JSON.stringify(upload), { mode: 0o600 });
      await rename(part, fileIn(ws.uploads, id));
      return upload;
    } catch (err) {
      await rm(part, { force: true });
      await rm(fileIn(ws.uploads, id, '.json'), { force: true });
      throw err;
    }
  }

  async get(userId: string, id: string): Promise<Upload> {
    const ws = workspaceFor(this.dataDir, userId);
    try {
      const meta = JSON.parse(await readFile(fileIn(ws.uploads, id, '.json'), 'utf8')) as Upload;
      await stat(fileIn(ws.uploads, id));
      return meta;
    } catch {
      throw new NotFoundError('upload');
    }
  }

  /** Removes the upload and its metadata; NotFoundError if there is none. */
  async remove(userId: string, id: string): Promise<void> {
    await this.get(userId, id);
    const ws = workspaceFor(this.dataDir, userId);
    await rm(fileIn(ws.uploads, id), { force: true });
    await rm(fileIn(ws.uploads, id, '.json'), { force: true });
  }

  /** Marks the upload as used now, so the sweeper's TTL counts from its last use. */
  async touch(userId: string, id: string): Promise<void> {
    const now = new Date();
    await utimes(this.pathOf(userId, id), now, now).catch(() => {});
  }

  pathOf(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).uploads, id);
  }
}
