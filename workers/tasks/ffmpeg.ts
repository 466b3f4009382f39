import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { inputGuardArgs, OUTPUT_FORMATS, type OutputFormat } from '../../src/media/index.js';
import { type LaunchedProcess, launcher } from './launcher.js';

export type DecodeProcess = ChildProcessByStdio<null, Readable, Readable>;
export type EncodeProcess = ChildProcessByStdio<Writable, null, Readable>;

export type TranscodeProcess = LaunchedProcess;

export interface DecodeOptions {
  inputPath: string;
  demuxer: string;
  sampleRate: number;
  maxDurationSec: number;
}

/** The input half of every ffmpeg that reads a user's file: one file, one demuxer, one stream. */
function guardedInput(o: { inputPath: string; demuxer: string; maxDurationSec: number }): string[] {
  // biome-ignore format: flag/value pairs read best one pair per line
  return [
    ...inputGuardArgs(),
    '-f', o.demuxer,
    '-t', String(o.maxDurationSec),
    '-i', `file:${o.inputPath}`,
    '-map', '0:a:0',
    '-vn', '-sn', '-dn',
  ];
}

/**
 * ffmpeg reading exactly one file: the demuxer is named (`-f`), only the `file` protocol and the
 * allowed demuxers may be used, decoding stops at the duration limit, and the output is mono
 * float32 PCM on stdout.
 */
export function spawnDecoder(o: DecodeOptions): DecodeProcess {
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    '-nostdin', '-hide_banner', '-v', 'error',
    ...guardedInput(o),
    '-ac', '1',
    '-ar', String(o.sampleRate),
    '-f', 'f32le',
    'pipe:1',
  ];
  return spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The filter chain of a pitch-only conversion. Downmix and resample come first: `-ac`/`-ar` would
 * apply after `-af`, so rubberband would shift every input channel at the input rate. Upward
 * shifts use rubberband's `pitchq=quality`: its default (`speed`) leaves the band above
 * Nyquist / ratio nearly empty (measured: -21 dB at 11-14 kHz for +12 semitones, bench/pitch-vs-bare.ts),
 * at about twice the CPU; downward shifts lose nothing that way and keep the cheaper mode.
 */
export function pitchChain(sampleRate: number, pitchRatio: number): string {
  const format = `aformat=sample_fmts=fltp:channel_layouts=mono:sample_rates=${sampleRate}`;
  if (Math.abs(pitchRatio - 1) <= 1e-6) return format;
  const quality = pitchRatio > 1 ? 'quality' : 'speed';
  return `${format},rubberband=pitch=${pitchRatio.toFixed(6)}:formant=preserved:pitchq=${quality}`;
}

export interface TranscodeOptions extends DecodeOptions {
  /** Pitch ratio for rubberband (1 = none). Formants are preserved. */
  pitchRatio: number;
  outputPath: string;
  format: OutputFormat;
  /** ffmpeg stops writing once the output reaches this many bytes (`-fs`); unset: no limit. */
  maxBytes?: number;
}

/**
 * One ffmpeg for a whole pitch-only conversion: the guarded input, downmix, resample and pitch
 * shift, encoded straight into `outputPath`. Progress comes as `key=value` lines on stdout
 * (`-progress`), every 250 ms (as often as progress events go out) and once more at the end.
 * Started by the thread's launcher process (workers/tasks/launcher.ts), not by forking the worker.
 */
export function spawnTranscoder(o: TranscodeOptions): TranscodeProcess {
  const f = OUTPUT_FORMATS[o.format];
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    '-nostdin', '-hide_banner', '-v', 'error',
    '-nostats', '-progress', 'pipe:1', '-stats_period', '0.25',
    ...guardedInput(o),
    '-af', pitchChain(o.sampleRate, o.pitchRatio),
    ...f.codec,
    ...(o.maxBytes !== undefined ? ['-fs', String(o.maxBytes)] : []),
    '-f', f.muxer,
    '-y', `file:${o.outputPath}`,
  ];
  return launcher.spawn('ffmpeg', args);
}

/**
 * ffmpeg encoding mono float32 PCM from stdin to one output file. With `maxBytes`, ffmpeg stops
 * writing once the file reaches it (`-fs`), so a runaway output cannot fill the disk between checks.
 * `-flush_packets 1`: each packet reaches the file as it is muxed, so a follower of the partial file
 * (GET /api/jobs/:id/result?partial=1) gets the first seconds at once; by default ffmpeg 5 holds the
 * first 256 KB, which is ~39 s of 24 kHz mp3 (measured; docs/BENCHMARKS.md). The bytes are the same for
 * mp3, FLAC and WAV; Ogg's pages are cut differently (same size), the same for every job.
 */
export function spawnEncoder(
  outputPath: string,
  format: OutputFormat,
  sampleRate: number,
  maxBytes?: number,
): EncodeProcess {
  const f = OUTPUT_FORMATS[format];
  const args = [
    '-nostdin',
    '-hide_banner',
    '-v',
    'error',
    '-f',
    'f32le',
    '-ar',
    String(sampleRate),
    '-ac',
    '1',
    '-i',
    'pipe:0',
    ...f.codec,
    ...(maxBytes !== undefined ? ['-fs', String(maxBytes)] : []),
    '-flush_packets',
    '1',
    '-f',
    f.muxer,
    '-y',
    `file:${outputPath}`,
  ];
  return spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
}

/** Collects the first few KB of a child's stderr for error messages. */
export function collectStderr(stream: Readable): () => string {
  let text = '';
  stream.on('data', (b: Buffer) => {
    if (text.length < 4096) text += b.toString();
  });
  return () => text.trim().split('\n').slice(-3).join(' | ');
}

/** Resolves with the exit code (or -1 for a signal) once the process has exited. */
export function exitOf(child: {
  exitCode: number | null;
  signalCode: string | null;
  once(e: 'close', l: () => void): unknown;
}): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(-1);
  return new Promise((resolve) => child.once('close', () => resolve(child.exitCode ?? -1)));
}
