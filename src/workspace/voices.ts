import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { NotFoundError, ValidationError } from '../errors/index.js';
import type { AudioInfo } from '../media/index.js';
import { type LimitedStream, receiveAudio, type UploadLimits } from './audio-intake.js';
import type { UsageLedger } from './usage-ledger.js';
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
  /** With a ledger, the voices' files are counted toward the workspace's usage as they come and go. */
  constructor(
    private readonly dataDir: string,
    private readonly ledger?: UsageLedger,
  ) {}

  /** Receives a reference recording with every check (see receiveAudio), 3-60 s long. */
  async saveReference(
    userId: string,
    source: LimitedStream,
    clientName: string,
    name: string,
    model: string,
    limits: UploadLimits,
  ): Promise<Voice> {
    const ws = await ensureWorkspace(workspaceFor(this.dataDir, userId));
    return receiveAudio(
      ws.voices,
      source,
      limits,
      (id, info, bytes) => {
        if (info.durationSec < REFERENCE_MIN_SEC || info.durationSec > REFERENCE_MAX_SEC) {
          throw new ValidationError(
            `a reference recording must last ${REFERENCE_MIN_SEC}-${REFERENCE_MAX_SEC} s; this one lasts ${info.durationSec.toFixed(1)} s`,
          );
        }
        return {
          id,
          name,
          model,
          createdAt: Date.now(),
          reference: { ...info, filename: clientName.slice(0, 200) || 'reference', bytes },
          jobId: null,
        };
      },
      async (changes) =>
        this.ledger?.record(
          userId,
          changes.map((c) => ({ folder: 'voices', ...c })),
        ),
    );
  }

  async setJob(userId: string, id: string, jobId: string, name: string): Promise<void> {
    const voice = await this.get(userId, id);
    await this.writeMeta(userId, { ...voice, jobId, name });
  }

  /** Gives the voice a new name. */
  async rename(userId: string, id: string, name: string): Promise<Voice> {
    const voice = { ...(await this.get(userId, id)), name };
    await this.writeMeta(userId, voice);
    return voice;
  }

  /** Replaces a voice's metadata whole: written aside, then renamed over, so no reader sees half a file. */
  private async writeMeta(userId: string, voice: Voice): Promise<void> {
    const meta = this.metaPath(userId, voice.id);
    await writeFile(`${meta}.part`, JSON.stringify(voice), { mode: 0o600 });
    await rename(`${meta}.part`, meta);
    await this.ledger?.sync(userId, [
      { folder: 'voices', name: `${voice.id}.json` },
      { folder: 'voices', name: `${voice.id}.json.part` },
    ]);
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

  /** The reference recording as it was sent (a user's voice's preview). */
  referencePathFor(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).voices, id, '');
  }

  profilePathFor(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).voices, id, '.profile.json');
  }

  async remove(userId: string, id: string): Promise<void> {
    await this.get(userId, id);
    const dir = workspaceFor(this.dataDir, userId).voices;
    const suffixes = ['', '.json', '.json.part', '.profile.json', '.profile.json.part'];
    // The metadata first: a reader that then misses the profile finds the voice gone, not "being analysed".
    await rm(this.metaPath(userId, id), { force: true });
    await Promise.all(suffixes.map((s) => rm(fileIn(dir, id, s), { force: true })));
    await this.ledger?.sync(
      userId,
      suffixes.map((s) => ({ folder: 'voices', name: `${id}${s}` })),
    );
  }

  private metaPath(userId: string, id: string): string {
    return fileIn(workspaceFor(this.dataDir, userId).voices, id, '.json');
  }
}
