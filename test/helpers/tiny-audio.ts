import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { humanSpeech } from './fixtures.js';

const DIR = path.join(os.tmpdir(), `vcfarm-tiny-${process.pid}`);

/**
 * A short mono WAV cut from the real speech fixture: `seconds` long at `rate`. Small enough that
 * a conversion takes tens of milliseconds (fair-share runs) and far below every quota.
 */
export function tinyWav(seconds = 1, rate = 16000): string {
  mkdirSync(DIR, { recursive: true });
  const file = path.join(DIR, `speech-${seconds}s-${rate}.wav`);
  // biome-ignore format: flag/value pairs
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', '-i', humanSpeech(1),
    '-t', String(seconds), '-ac', '1', '-ar', String(rate), '-c:a', 'pcm_s16le', file,
  ]);
  return file;
}
