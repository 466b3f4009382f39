import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Generated fixtures are cached for the run (`npm test` gives each run its own TMPDIR, removed after it). */
const DIR = path.join(os.tmpdir(), 'vcfarm-fixtures');
export const ALSA = '/usr/share/sounds/alsa';

function cached(name: string, make: (file: string) => void): string {
  mkdirSync(DIR, { recursive: true });
  const file = path.join(DIR, name);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    make(tmp);
    execFileSync('mv', [tmp, file]);
  }
  return file;
}

/** Real human speech: the alsa-utils recordings joined into one ~`repeat`×7.6 s mono WAV. */
export function humanSpeech(repeat = 1): string {
  const names = ['Front_Center', 'Front_Left', 'Front_Right', 'Rear_Center', 'Rear_Left', 'Rear_Right'];
  const inputs = Array.from({ length: repeat }, () => names).flat();
  return cached(`human-speech-x${repeat}.wav`, (out) => {
    const args = ['-v', 'error', '-y'];
    for (const n of inputs) args.push('-i', path.join(ALSA, `${n}.wav`));
    const filter = `${inputs.map((_, i) => `[${i}:a]`).join('')}concat=n=${inputs.length}:v=0:a=1[a]`;
    execFileSync('ffmpeg', [...args, '-filter_complex', filter, '-map', '[a]', '-ac', '1', '-f', 'wav', out]);
  });
}

/** The first `seconds` of real human speech, mono, written to `out` with extra ffmpeg output options. */
export function speechClip(out: string, seconds: number, ...outputArgs: string[]): string {
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    humanSpeech(1),
    '-t',
    String(seconds),
    '-ac',
    '1',
    ...outputArgs,
    out,
  ]);
  return out;
}

/** A synthetic voice saying a sentence (espeak-ng), as a WAV. */
export function espeakSentence(
  voice = 'en-us+m3',
  text = 'The quick brown fox jumps over the lazy dog near the river bank.',
): string {
  // Named by a hash of voice and text: two sentences of one length must not share a file.
  const key = createHash('sha256').update(`${voice}\n${text}`).digest('hex').slice(0, 16);
  return cached(`espeak-${voice.replace(/[^a-z0-9]/gi, '_')}-${key}.wav`, (out) => {
    execFileSync('espeak-ng', ['-v', voice, '-w', out, text]);
  });
}

/** Decodes any audio file to mono float32 PCM at `rate`. */
export function decodePcm(file: string, rate: number): Float32Array {
  const buf = execFileSync(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-ac', '1', '-ar', String(rate), '-f', 'f32le', 'pipe:1'],
    {
      maxBuffer: 1 << 30,
    },
  );
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}

export function durationOf(file: string): number {
  const out = execFileSync('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=duration',
    '-of',
    'csv=p=0',
    file,
  ]).toString();
  return Number(out.trim());
}

/**
 * Issue 11's hostile upload: 590 s of 8-channel 192 kHz silence, a FLAC of a few hundred KB whose
 * conversion to WAV would be about 52 MB.
 */
export function hostileSilenceFlac(): string {
  return silenceFlac(590);
}

/** `seconds` of 8-channel 192 kHz silence as FLAC: tiny, yet slow to decode and large as WAV. */
export function silenceFlac(seconds: number): string {
  return cached(`silence-${seconds}s-8ch-192k.flac`, (out) => {
    // biome-ignore format: flag/value pairs
    execFileSync('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=192000:cl=7.1',
      '-t', String(seconds), '-c:a', 'flac', '-f', 'flac', out,
    ]);
  });
}

/** `seconds` of an 8-channel 192 kHz tone as FLAC: many channels and a high rate, in little time. */
export function wideToneFlac(seconds: number): string {
  return cached(`tone-${seconds}s-8ch-192k.flac`, (out) => {
    // biome-ignore format: flag/value pairs
    execFileSync('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=f=220:r=192000:d=${seconds}`,
      '-ac', '8', '-c:a', 'flac', '-f', 'flac', out,
    ]);
  });
}
