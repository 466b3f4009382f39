import { readFile, rm, stat, utimes } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { NotFoundError } from '../errors/index.js';
import type { AudioInfo } from '../media/index.js';
import { type LimitedStream, receiveAudio, type UploadLimits } from './audio-intake.js';
import type { UsageLedger } from './usage-ledger.js';
import { ensureWorkspace, fileIn, workspaceFor } from './workspace.js';

export interface Upload extends AudioInfo {
  id: string;
  /** The client's file name: metadata only, never part of a path. */
  filename: string;
  bytes: number;
  createdAt: number;
}

const cacheKey = (userId: string, id: string) => `${userId}/${id}`;

function parseUpload(text: string): Upload {
  return JSON.parse(text) as Upload;
}

function cleanFilename(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 200);
  return cleaned || 'audio';
}

export interface UploadStoreOptions {
  /** How many uploads' metadata are kept in memory (most recently used first). Default 10000 (~5 MB). */
  cachedUploads?: number;
  /** Where uploads are counted toward the workspace's usage as they come and go. Default: nowhere. */
  ledger?: UsageLedger;
}

const DEFAULTS = { cachedUploads: 10_000 };

/**
 * Uploaded audio in users' workspaces: `uploads/<id>` plus its metadata in `uploads/<id>.json`.
 *
 * An upload's metadata never changes once written (it is written before the upload is renamed into
 * place, and ids are never reused), so it is kept in memory after the first read: `get` then costs
 * two `stat`s at once (are the upload and its metadata still there: another instance or the sweeper
 * may have removed them) instead of a `readFile` (open, stat, read, close: four trips one after
 * another to libuv's thread pool) and a `stat` (docs/BENCHMARKS.md, issue 17).
 */
export class UploadStore {
  readonly #meta: LRUCache<string, Upload>;
  readonly #ledger: UsageLedger | undefined;

  constructor(
    private readonly dataDir: string,
    options: UploadStoreOptions = {},
  ) {
    const max = options.cachedUploads ?? DEFAULTS.cachedUploads;
    if (!Number.isInteger(max) || max < 1)
      throw new TypeError('options.cachedUploads must be a whole number, 1 or more');
    this.#meta = new LRUCache({ max });
    this.#ledger = options.ledger;
  }

  /** Receives an uploaded file with every check (see receiveAudio); nothing is left behind on failure. */
  async save(
    userId: string,
    source: LimitedStream,
    clientName: string,
    limits: UploadLimits,
  ): Promise<Upload> {
    const ws = await ensureWorkspace(workspaceFor(this.dataDir, userId));
    const upload = await receiveAudio(
      ws.uploads,
      source,
      limits,
      (id, info, bytes) => ({
        id,
        filename: cleanFilename(clientName),
        bytes,
        createdAt: Date.now(),
        ...info,
      }),
      async (changes) =>
        this.#ledger?.record(
          userId,
          changes.map((c) => ({ folder: 'uploads', ...c })),
        ),
    );
    this.#meta.set(cacheKey(userId, upload.id), upload);
    return upload;
  }

  /** The upload's metadata; NotFoundError unless both the upload and its metadata are there. */
  async get(userId: string, id: string): Promise<Upload> {
    const ws = workspaceFor(this.dataDir, userId);
    const key = cacheKey(userId, id);
    try {
      const metaFile = fileIn(ws.uploads, id, '.json');
      const cached = this.#meta.get(key);
      // Cached: only whether both files are still there (two stats at once, not one after another).
      const [meta] = await Promise.all([
        cached ? stat(metaFile).then(() => cached) : readFile(metaFile, 'utf8').then(parseUpload),
        stat(fileIn(ws.uploads, id)),
      ]);
      this.#meta.set(key, meta);
      return meta;
    } catch {
      this.#meta.delete(key);
      throw new NotFoundError('upload');
    }
  }

  /** Removes the upload and its metadata; NotFoundError if there is none. */
  async remove(userId: string, id: string): Promise<void> {
    await this.get(userId, id);
    const ws = workspaceFor(this.dataDir, userId);
    this.#meta.delete(cacheKey(userId, id));
    await rm(fileIn(ws.uploads, id), { force: true });
    await rm(fileIn(ws.uploads, id, '.json'), { force: true });
    await this.#ledger?.sync(userId, [
      { folder: 'uploads', name: id },
      { folder: 'uploads', name: `${id}.json` },
    ]);
  }

  /**
   * Marks the upload as used now, so the sweeper's TTL counts from its last use: the upload and its
   * metadata both, or the sweeper would take the metadata (dated from the upload's arrival) from
   * under an upload in use.
   */
  async touch(userId: string, id: string): Promise<void> {
    const now = new Date();
    const file = this.pathOf(userId, id);
    await Promise.all([file, `${file}.json`].map((f) => utimes(f, now, now).catch(() => {})));
  }

  pathOf(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).uploads, id);
  }
}
