import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, TooLargeError, UnsupportedAudioError, ValidationError } from '../errors/index.js';
import { type AudioInfo, probeAudio } from '../media/index.js';
import type { LimitedStream, UploadLimits } from './uploads.js';
import { ensureWorkspace, fileIn, workspaceFor } from './workspace.js';

/** Reference recordings must last this long (seconds) to give a usable profile. */
export const REFERENCE_MIN_SEC = 3;
export const REFERENCE_MAX_SEC = 60;

export interface Voice {
  id: string;
  name: string;
  model: string;
  createdAt: number;
  reference: AudioInfo & { filename: string; bytes: number };
  /** The clone job that analyses the reference. */
  jobId: string | null;
}

/**
 * A user's cloned voices: `voices/<id>` (the reference recording), `voices/<id>.json` (metadata)
 * and `voices/<id>.profile.json` (written by the clone job once the analysis is done).
 */
export class VoiceStore {
  constructor(private readonly dataDir: string) {}

  /** Streams and probes a reference recording; nothing is left behind on failure. */
  async saveReference(
    userId: string,
    source: LimitedStream,
    clientName: string,
    name: string,
    model: string,
    limits: UploadLimits,
  ): Promise<Voice> {
    const ws = await ensureWorkspace(workspaceFor(this.dataDir, userId));
    const id = randomUUID();
    const part = fileIn(ws.voices, id, '.part');
    try {
      await pipeline(source, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
      if (source.truncated)
        throw new TooLargeError(`the recording exceeds the limit of ${limits.maxBytes} bytes`);
      const { size } = await stat(part);
      if (size === 0) throw new UnsupportedAudioError('the uploaded file is empty');
      const info = await probeAudio(part, {
        timeoutMs: limits.probeTimeoutMs,
        maxDurationSec: limits.maxDurationSec,
      });
      if (info.durationSec < REFERENCE_MIN_SEC || info.durationSec > REFERENCE_MAX_SEC) {
        throw new ValidationError(
          `a reference recording must last ${REFERENCE_MIN_SEC}-${REFERENCE_MAX_SEC} s; this one lasts ${info.durationSec.toFixed(1)} s`,
        );
      }
      const voice: Voice = {
        id,
        name,
        model,
        createdAt: Date.now(),
        reference: { ...info, filename: clientName.slice(0, 200) || 'reference', bytes: size },
        jobId: null,
      };
      await writeFile(fileIn(ws.voices, id, '.json'), JSON.stringify(voice), { mode: 0o600 });
      await rename(part, fileIn(ws.voices, id));
      return voice;
    } catch (err) {
      await Promise.all([rm(part, { force: true }), rm(fileIn(ws.voices, id, '.json'), { force: true })]);
      throw err;
    }
  }

  async setJob(userId: string, id: string, jobId: string, name: string): Promise<void> {
    const voice = await this.get(userId, id);
    await writeFile(this.metaPath(userId, id), JSON.stringify({ ...voice, jobId, name }), { mode: 0o600 });
  }

  async get(userId: string, id: string): Promise<Voice> {
    try {
      return JSON.parse(await readFile(this.metaPath(userId, id), 'utf8')) as Voice;
    } catch {
      throw new NotFoundError('voice');
    }
  }

  async list(userId: string): Promise<Voice[]> {
    const dir = workspaceFor(this.dataDir, userId).voices;
    const names = await readdir(dir).catch(() => [] as string[]);
    const ids = names
      .filter((n) => n.endsWith('.json') && !n.endsWith('.profile.json'))
      .map((n) => n.slice(0, -5));
    const voices = await Promise.all(ids.map((id) => this.get(userId, id).catch(() => undefined)));
    return voices.filter((v): v is Voice => v !== undefined).sort((a, b) => b.createdAt - a.createdAt);
  }

  /** The profile written by the clone job, if the analysis is done. */
  async profilePath(userId: string, id: string): Promise<string | undefined> {
    const p = this.profilePathFor(userId, id);
    return stat(p).then(
      () => p,
      () => undefined,
    );
  }

  profilePathFor(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).voices, id, '.profile.json');
  }

  referencePath(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).voices, id);
  }

  async remove(userId: string, id: string): Promise<void> {
    await this.get(userId, id);
    const dir = workspaceFor(this.dataDir, userId).voices;
    await Promise.all(
      ['', '.json', '.profile.json', '.profile.json.part'].map((s) =>
        rm(fileIn(dir, id, s), { force: true }),
      ),
    );
  }

  private metaPath(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).voices, id, '.json');
  }
}
