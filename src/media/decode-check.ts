import { spawn } from 'node:child_process';
import { AudioTooLongError, UnsupportedAudioError } from '../errors/index.js';
import { inputGuardArgs } from './formats.js';
import { toolReason } from './tool-reason.js';

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
export function measureDecodedDuration(file: string, opts: DecodeCheckOptions): Promise<number> {
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
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    let verdict: Error | undefined;
    const stop = (err: Error) => {
      verdict ??= err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => stop(new UnsupportedAudioError(`decoding took longer than ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    child.stdout.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes > limitBytes)
        stop(
          new AudioTooLongError(
            `the audio decodes to more than ${opts.maxDurationSec} s; the limit is ${opts.maxDurationSec} s`,
          ),
        );
    });
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString();
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (verdict) return reject(verdict);
      if (code !== 0)
        return reject(
          new UnsupportedAudioError(
            `the audio does not decode (${toolReason(stderr, `ffmpeg exit ${code}`)})`,
          ),
        );
      if (bytes < 2) return reject(new UnsupportedAudioError('the audio decodes to no samples'));
      resolve(bytes / 2 / COUNT_RATE);
    });
  });
}
