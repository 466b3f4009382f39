import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { inputGuardArgs, OUTPUT_FORMATS, type OutputFormat } from '../../src/media/index.js';

export type DecodeProcess = ChildProcessByStdio<null, Readable, Readable>;
export type EncodeProcess = ChildProcessByStdio<Writable, null, Readable>;

export interface DecodeOptions {
  inputPath: string;
  demuxer: string;
  sampleRate: number;
  maxDurationSec: number;
  /** Pitch ratio for rubberband (1 = none). Formants are preserved. */
  pitchRatio: number;
}

/**
 * ffmpeg reading exactly one file: the demuxer is named (`-f`), only the `file` protocol and the
 * allowed demuxers may be used, decoding stops at the duration limit, and the output is mono
 * float32 PCM on stdout.
 */
export function spawnDecoder(o: DecodeOptions): DecodeProcess {
  const filters =
    Math.abs(o.pitchRatio - 1) > 1e-6
      ? ['-af', `rubberband=pitch=${o.pitchRatio.toFixed(6)}:formant=preserved`]
      : [];
  const args = [
    '-nostdin',
    '-hide_banner',
    '-v',
    'error',
    ...inputGuardArgs(),
    '-f',
    o.demuxer,
    '-t',
    String(o.maxDurationSec),
    '-i',
    `file:${o.inputPath}`,
    '-map',
    '0:a:0',
    '-vn',
    '-sn',
    '-dn',
    '-ac',
    '1',
    '-ar',
    String(o.sampleRate),
    ...filters,
    '-f',
    'f32le',
    'pipe:1',
  ];
  return spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * ffmpeg encoding mono float32 PCM from stdin to one output file. With `maxBytes`, ffmpeg stops
 * writing once the file reaches it (`-fs`), so a runaway output cannot fill the disk between checks.
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
