import { readFile, rm, stat, utimes } from 'node:fs/promises';
import { NotFoundError } from '../errors/index.js';
import type { AudioInfo } from '../media/index.js';
import { type LimitedStream, receiveAudio, type UploadLimits } from './audio-intake.js';
import { ensureWorkspace, fileIn, workspaceFor } from './workspace.js';

export interface Upload extends AudioInfo {
  id: string;
  /** The client's file name: metadata only, never part of a path. */
  filename: string;
  bytes: number;
  createdAt: number;
}

function cleanFilename(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 200);
  return cleaned || 'audio';
}

/** Uploaded audio in users' workspaces: `uploads/<id>` plus its metadata in `uploads/<id>.json`. */
export class UploadStore {
  constructor(private readonly dataDir: string) {}

  /** Receives an uploaded file with every check (see receiveAudio); nothing is left behind on failure. */
  async save(
    userId: string,
    source: LimitedStream,
    clientName: string,
    limits: UploadLimits,
  ): Promise<Upload> {
    const ws = await ensureWorkspace(workspaceFor(this.dataDir, userId));
    return receiveAudio(ws.uploads, source, limits, (id, info, bytes) => ({
      id,
      filename: cleanFilename(clientName),
      bytes,
      createdAt: Date.now(),
      ...info,
    }));
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
