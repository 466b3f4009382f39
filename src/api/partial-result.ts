import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PartialResult } from '../queue/index.js';

/**
 * Following a conversion's output while it is written (GET /api/jobs/:id/result?partial=1).
 * The worker's encoder writes an appendable stream into the attempt's partial file (mp3 and ogg
 * frames; ffmpeg's WAV and FLAC headers leave the length open until the end), so the bytes
 * written so far play. Polling, with change events only as a hint: the API and the worker may be
 * on different hosts sharing the workspace over a network file system, where change events do not
 * cross hosts; on one host the first bytes are seen when written instead of at the next poll.
 */

/** How often a file at its end is read again (sooner when a change event says it grew). */
export const FILE_POLL_MS = 200;
/**
 * The least time between two reads of a followed file: change events come with every packet the
 * encoder writes (hundreds a second), so a stream reads at most 25 times a second.
 */
const FOLLOW_MIN_GAP_MS = 40;
/** How often the job's state (and attempt) is read from Redis while following. */
export const STATE_POLL_MS = 500;
/** How long a request waits for a queued or just-started job's first bytes before a 409. */
export const FIRST_BYTES_WAIT_MS = 60_000;
const CHUNK_BYTES = 64 * 1024;

export type PartialStart =
  /** The job has finished: serve its file as the plain result route does (Range, ETag). */
  | { kind: 'final'; result: PartialResult }
  /** Failed or cancelled: nothing to serve. */
  | { kind: 'ended' }
  /** Nothing written yet after FIRST_BYTES_WAIT_MS (or the caller went away). */
  | { kind: 'not-yet' }
  /** The current attempt's file has bytes: follow it. */
  | { kind: 'follow'; file: FileHandle; attempt: number; result: PartialResult };

const pause = (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }).catch(() => {});

/**
 * A pause that ends early when one file changes (the attempt's partial file: made, then written),
 * from change events on its folder, those naming other files (the user's other outputs) ignored.
 * The events are a hint only (the timed poll stays the rule, for shared file systems); a folder
 * that cannot be watched (not made yet) leaves the plain pause.
 */
class FileWake {
  #watcher: FSWatcher | undefined;
  #dir: string | undefined;
  #name: string | undefined;
  #changed = false;
  #wake: (() => void) | undefined;

  watch(file: string): void {
    const dir = path.dirname(file);
    this.#name = path.basename(file);
    if (this.#dir === dir && this.#watcher) return;
    this.close();
    this.#dir = dir;
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name !== null && name !== this.#name) return;
        this.#changed = true;
        this.#wake?.();
      });
      this.#watcher.on('error', () => this.close());
    } catch {
      this.#watcher = undefined;
    }
  }

  /** Waits `ms`, or less (but at least `minMs`) if the folder changed since the last wait. */
  async pause(ms: number, signal: AbortSignal, minMs = 0): Promise<void> {
    const start = Date.now();
    await this.#changeOr(ms, signal);
    const rest = minMs - (Date.now() - start);
    if (rest > 0 && !signal.aborted) await pause(rest, signal);
  }

  async #changeOr(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#changed) {
      this.#changed = false;
      return;
    }
    const woken = new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    const timer = new AbortController();
    const stop = () => timer.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      await Promise.race([woken, sleep(ms, undefined, { signal: timer.signal }).catch(() => {})]);
    } finally {
      timer.abort();
      signal.removeEventListener('abort', stop);
      this.#wake = undefined;
      this.#changed = false;
    }
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

/** Waits until the current attempt's partial file has bytes, or the job ends. */
export async function waitForPartial(
  read: () => Promise<PartialResult>,
  signal: AbortSignal,
  waitMs = FIRST_BYTES_WAIT_MS,
): Promise<PartialStart> {
  const deadline = Date.now() + waitMs;
  const wake = new FileWake();
  try {
    for (;;) {
      const r = await read();
      if (r.state === 'completed') return { kind: 'final', result: r };
      if (r.state === 'failed' || r.state === 'cancelled') return { kind: 'ended' };
      // Queued or active alike: the worker makes this attempt's partial file, then writes it.
      wake.watch(r.partPath);
      if (r.state === 'active') {
        const file = await open(r.partPath, 'r').catch(() => undefined);
        if (file) {
          if ((await file.stat()).size > 0) return { kind: 'follow', file, attempt: r.attempt, result: r };
          await file.close();
        }
      }
      if (signal.aborted || Date.now() >= deadline) return { kind: 'not-yet' };
      await wake.pause(r.state === 'active' ? FILE_POLL_MS : STATE_POLL_MS, signal);
    }
  } finally {
    wake.close();
  }
}

/**
 * The bytes of one attempt's partial file from the start, then whatever is appended, until the
 * job leaves that attempt: completed (the renamed file is read to its end through the same open
 * handle), failed, cancelled or retried (a new attempt writes another file: this stream ends
 * rather than splice two attempts), or until `signal` aborts (client gone, server closing).
 */
export function followPartial(
  file: FileHandle,
  attempt: number,
  read: () => Promise<PartialResult>,
  signal: AbortSignal,
  /** The file's path, for change events (a hint: the poll stays). */
  partPath: string,
): Readable {
  const wake = new FileWake();
  async function* chunks(): AsyncGenerator<Buffer> {
    wake.watch(partPath);
    const buf = Buffer.alloc(CHUNK_BYTES);
    let pos = 0;
    let nextStateRead = Date.now() + STATE_POLL_MS;
    let last = false;
    try {
      for (;;) {
        const { bytesRead } = await file.read(buf, 0, CHUNK_BYTES, pos);
        if (bytesRead > 0) {
          pos += bytesRead;
          yield Buffer.from(buf.subarray(0, bytesRead));
          continue;
        }
        if (last || signal.aborted) return;
        if (Date.now() >= nextStateRead) {
          nextStateRead = Date.now() + STATE_POLL_MS;
          const r = await read().catch(() => undefined);
          if (!r || r.attempt !== attempt) return;
          // The worker renames the file before BullMQ marks the job completed: one more pass to its end.
          if (r.state === 'completed') last = true;
          else if (r.state !== 'active') return;
          if (last) continue;
        }
        await wake.pause(FILE_POLL_MS, signal, FOLLOW_MIN_GAP_MS);
      }
    } finally {
      wake.close();
      await file.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
