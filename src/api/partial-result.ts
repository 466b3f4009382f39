import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PartialResult } from '../queue/index.js';

/**
 * Following a conversion's output while it is written (GET /api/jobs/:id/result?partial=1).
 * The worker's encoder writes an appendable stream into the attempt's partial file (mp3 and ogg
 * frames; ffmpeg's WAV and FLAC headers leave the length open until the end), so the bytes
 * written so far play. Polling, not inotify: the API and the worker may be on different hosts
 * sharing the workspace over a network file system, where change events do not cross hosts.
 */

/**
 * How often a file at its end (or not written yet) is read again: 50 ms keeps the follower's share
 * of the time to first audio small (0-50 ms; 0-200 ms at 200 ms) for one stat or read a poll.
 */
export const FILE_POLL_MS = 50;
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

/** Waits until the current attempt's partial file has bytes, or the job ends. */
export async function waitForPartial(
  read: () => Promise<PartialResult>,
  signal: AbortSignal,
  waitMs = FIRST_BYTES_WAIT_MS,
): Promise<PartialStart> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await read();
    if (r.state === 'completed') return { kind: 'final', result: r };
    if (r.state === 'failed' || r.state === 'cancelled') return { kind: 'ended' };
    if (r.state === 'active') {
      const file = await open(r.partPath, 'r').catch(() => undefined);
      if (file) {
        if ((await file.stat()).size > 0) return { kind: 'follow', file, attempt: r.attempt, result: r };
        await file.close();
      }
    }
    if (signal.aborted || Date.now() >= deadline) return { kind: 'not-yet' };
    await pause(r.state === 'active' ? FILE_POLL_MS : STATE_POLL_MS, signal);
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
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
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
        await pause(FILE_POLL_MS, signal);
      }
    } finally {
      await file.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
