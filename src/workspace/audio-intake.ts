import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  InsufficientStorageError,
  MalformedMultipartError,
  TooLargeError,
  UnsupportedAudioError,
  VcError,
} from '../errors/index.js';
import {
  type AudioInfo,
  assertDurationsAgree,
  assertWavHeaderHonest,
  measureDecodedDuration,
  probeAudio,
} from '../media/index.js';
import { fileIn } from './workspace.js';

export interface UploadLimits {
  maxBytes: number;
  maxDurationSec: number;
  probeTimeoutMs: number;
  /**
   * When set, the file is also decoded once and its true duration (not the header's) must be
   * within maxDurationSec; the decode pass is killed after this many milliseconds.
   */
  decodeTimeoutMs?: number;
  /**
   * Runs the decode pass: a concurrency limit shared by the instance's uploads (each pass costs a
   * core for up to decodeTimeoutMs). Default: at once.
   */
  decodeSlots?: <T>(run: () => Promise<T>) => Promise<T>;
}

/** Write errors that mean the volume (or the quota on it) is full. */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

/** Streams arriving with a `truncated` flag set when a size limit cut them (as @fastify/multipart does). */
export type LimitedStream = Readable & { truncated?: boolean };

/** What the store records about a received file; may throw to refuse it (e.g. too short). */
export type DescribeAudio<M> = (id: string, info: AudioInfo, bytes: number) => M;

/** Tells the usage ledger what the folder's files now hold (bytes, or null: gone). */
export type CountFiles = (changes: { name: string; bytes: number | null }[]) => Promise<unknown>;

/**
 * Receives one audio file into `dir` under a new id: streams it to `<id>.part`, checks it
 * (size, probe, and with `decodeTimeoutMs` an honest header and a decoded duration), writes
 * `<id>.json` from `describe`, and only then renames it to `<id>`. On any failure nothing is
 * left behind. Uploads and voice references both come in this way, so both get every check.
 *
 * With `count`, the two files are counted in the usage ledger before they appear and again once
 * they are in place (a reconcile between the two may have seen only the `.part`), and uncounted
 * when they are removed: a crash in between leaves the ledger over, never under, the disk.
 */
export async function receiveAudio<M>(
  dir: string,
  source: LimitedStream,
  limits: UploadLimits,
  describe: DescribeAudio<M>,
  count: CountFiles = async () => {},
): Promise<M> {
  const id = randomUUID();
  const part = fileIn(dir, id, '.part');
  const meta = fileIn(dir, id, '.json');
  try {
    await pipeline(source, createWriteStream(part, { flags: 'wx', mode: 0o600 })).catch((err) => {
      // The volume filled while writing: the server's shortage (507), whatever the body did.
      if (DISK_FULL.has((err as NodeJS.ErrnoException).code ?? '')) throw new InsufficientStorageError();
      // The body itself broke off or was malformed: the client's fault, not a server error.
      throw source.errored && !(err instanceof VcError) ? new MalformedMultipartError({ cause: err }) : err;
    });
    if (source.truncated) throw new TooLargeError(`the file exceeds the limit of ${limits.maxBytes} bytes`);
    const { size } = await stat(part);
    if (size === 0) throw new UnsupportedAudioError('the uploaded file is empty');
    const info = await probeAudio(part, {
      timeoutMs: limits.probeTimeoutMs,
      maxDurationSec: limits.maxDurationSec,
    });
    if (limits.decodeTimeoutMs !== undefined) {
      await assertWavHeaderHonest(part);
      const timeoutMs = limits.decodeTimeoutMs;
      const decode = () =>
        measureDecodedDuration(part, {
          demuxer: info.demuxer,
          maxDurationSec: limits.maxDurationSec,
          timeoutMs,
        });
      const decodedSec = await (limits.decodeSlots ? limits.decodeSlots(decode) : decode());
      assertDurationsAgree(info.demuxer, info.durationSec, decodedSec);
      info.durationSec = decodedSec;
    }
    const record = describe(id, info, size);
    const metaText = JSON.stringify(record);
    const placed = [
      { name: id, bytes: size },
      { name: `${id}.json`, bytes: Buffer.byteLength(metaText) },
      { name: `${id}.part`, bytes: null },
    ];
    await count(placed);
    await writeFile(meta, metaText, { mode: 0o600 });
    await rename(part, fileIn(dir, id));
    // Counted already; this second count only corrects a reconcile that ran in between.
    await count(placed).catch(() => {});
    return record;
  } catch (err) {
    await Promise.all([rm(part, { force: true }), rm(meta, { force: true })]);
    // A failed uncount leaves the ledger over the disk until the next reconcile: the safe side.
    await count([id, `${id}.json`, `${id}.part`].map((name) => ({ name, bytes: null }))).catch(() => {});
    throw err;
  }
}
