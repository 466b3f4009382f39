import { open } from 'node:fs/promises';
import { UnsupportedAudioError } from '../errors/index.js';

/** Containers whose headers state the exact length, so a mismatch with the decoded audio is a lie. */
const EXACT_LENGTH_DEMUXERS = new Set(['wav', 'w64', 'flac', 'aiff']);

/**
 * A RIFF/WAVE file whose `data` chunk claims more bytes than the file holds is truncated or
 * lying (ffmpeg would quietly read to the end). Other files pass untouched.
 */
export async function assertWavHeaderHonest(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, 64 * 1024));
    await fh.read(head, 0, head.length, 0);
    if (
      head.length < 12 ||
      head.toString('latin1', 0, 4) !== 'RIFF' ||
      head.toString('latin1', 8, 12) !== 'WAVE'
    )
      return;
    for (let at = 12; at + 8 <= head.length; ) {
      const id = head.toString('latin1', at, at + 4);
      const len = head.readUInt32LE(at + 4);
      if (id === 'data') {
        const present = size - (at + 8);
        // 0 and 0xFFFFFFFF mean "unknown" (streamed WAVs); anything else must be there.
        if (len !== 0 && len !== 0xffffffff && len > present)
          throw new UnsupportedAudioError(
            `the WAV header claims ${len} bytes of audio but the file holds ${present}: truncated or lying`,
          );
        return;
      }
      at += 8 + len + (len % 2);
    }
  } finally {
    await fh.close();
  }
}

/** For exact-length containers: the header's duration must match what decoding produced. */
export function assertDurationsAgree(demuxer: string, headerSec: number, decodedSec: number): void {
  if (!EXACT_LENGTH_DEMUXERS.has(demuxer)) return;
  const tolerance = Math.max(0.5, 0.05 * Math.max(headerSec, decodedSec));
  if (Math.abs(headerSec - decodedSec) > tolerance)
    throw new UnsupportedAudioError(
      `the header claims ${headerSec.toFixed(2)} s but the audio decodes to ${decodedSec.toFixed(2)} s: truncated or lying`,
    );
}
