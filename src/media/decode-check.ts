import { AudioTooLongError, UnsupportedAudioError } from '../errors/index.js';
import { inputGuardArgs } from './formats.js';
import { firstStderrLine, spawnMedia } from './spawn-media.js';

/** Decoded audio is counted at this rate: cheap to pipe, exact enough for a duration. */
const COUNT_RATE = 8000;

export interface DecodeCheckOptions {
  demuxer: string;
  maxDurationSec: number;
  timeoutMs: number;
}

/**
 * Decodes the whole file once (same restrictions as the worker's decoder) and counts the
 * samples that come out: the true duration, whatever the header says. A file that decodes to
 * more than the limit is stopped as soon as it passes it, so a tiny file that expands to hours
 * costs at most `maxDurationSec` of decoding. Returns the decoded duration in seconds.
 */
export async function measureDecodedDuration(file: string, opts: DecodeCheckOptions): Promise<number> {
  const limitBytes = Math.ceil(opts.maxDurationSec * COUNT_RATE) * 2;
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    '-nostdin', '-hide_banner', '-v', 'error',
    ...inputGuardArgs(),
    '-f', opts.demuxer,
    '-i', `file:${file}`,
    '-map', '0:a:0',
    '-vn', '-sn', '-dn',
    '-ac', '1',
    '-ar', String(COUNT_RATE),
    '-f', 's16le',
    'pipe:1',
  ];
  let bytes = 0;
  const run = await spawnMedia('ffmpeg', args, {
    timeoutMs: opts.timeoutMs,
    timeoutError: () => new UnsupportedAudioError(`decoding took longer than ${opts.timeoutMs} ms`),
    onStdout: (b, stop) => {
      bytes += b.length;
      if (bytes > limitBytes)
        stop(
          new AudioTooLongError(
            `the audio decodes to more than ${opts.maxDurationSec} s; the limit is ${opts.maxDurationSec} s`,
          ),
        );
    },
  });
  if (run.stopped) throw run.stopped;
  if (run.code !== 0)
    // ffmpeg's words name the file's path and its own memory addresses: logs only.
    throw new UnsupportedAudioError('the audio does not decode', {
      cause: new Error(firstStderrLine(run, 'ffmpeg')),
    });
  if (bytes < 2) throw new UnsupportedAudioError('the audio decodes to no samples');
  return bytes / 2 / COUNT_RATE;
}
