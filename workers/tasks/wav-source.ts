import { open } from 'node:fs/promises';
import { type PcmWavLayout, parsePcmWav, WavHeaderError } from '../../src/media/index.js';
import { DecodeFailed, TaskCancelled } from './pcm-source.js';
import { Resampler } from './resampler.js';
import type { TaskControl } from './task-types.js';

/** Header bytes read to find the data chunk; WAVs with more before it go to ffmpeg. */
const HEAD_BYTES = 64 * 1024;
/**
 * Longest input (in frames at its own rate) resampled in-process. Measured per 10 s of mono
 * input on this machine: ffmpeg costs about 95 ms of CPU whatever the rate (85 of them starting
 * up), the in-process reader 2 ms at the model's rate and 20-43 ms when resampling from
 * 16-48 kHz: resampling in-process pays up to about 37 s at 48 kHz. The cost follows the
 * input frames, so the limit is in frames; longer inputs at another rate go to ffmpeg.
 */
export const RESAMPLE_MAX_FRAMES = 30 * 48_000;
/** Frames read per block. */
const BLOCK_FRAMES = 16_384;

export interface WavSourceOptions {
  inputPath: string;
  sampleRate: number;
  maxDurationSec: number;
  control: TaskControl;
  onSamples?: (samples: number) => void;
}

/**
 * Mono float samples from whole frames, downmixed as ffmpeg's `-ac 1` does to float output:
 * stereo is (L + R)·√½, so both readers give a file the same level.
 */
function toMono(layout: PcmWavLayout, bytes: Buffer): Float32Array {
  const ch = layout.channels;
  const frames = bytes.length / layout.blockAlign;
  const n = frames * ch;
  // Blocks are read into fresh, unpooled buffers, so typed views over them are aligned (and
  // little-endian like the file on every platform Node runs on here).
  const { buffer, byteOffset } = bytes;
  let samples: Float32Array;
  if (layout.sampleFormat === 'f32') {
    samples = new Float32Array(buffer, byteOffset, n);
    for (let i = 0; i < n; i++) if (!Number.isFinite(samples[i])) samples[i] = 0;
  } else {
    samples = new Float32Array(n);
    if (layout.sampleFormat === 's16') {
      const v = new Int16Array(buffer, byteOffset, n);
      for (let i = 0; i < n; i++) samples[i] = v[i] / 32768;
    } else if (layout.sampleFormat === 's32') {
      const v = new Int32Array(buffer, byteOffset, n);
      for (let i = 0; i < n; i++) samples[i] = v[i] / 2147483648;
    } else {
      for (let i = 0, at = 0; i < n; i++, at += 3)
        samples[i] = ((bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) << 8) / 2147483648;
    }
  }
  if (ch === 1) return samples;
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) out[f] = (samples[2 * f] + samples[2 * f + 1]) * Math.SQRT1_2;
  return out;
}

/**
 * The layout of `file` when it is a plain PCM WAV the in-process reader takes at this output
 * rate; null when ffmpeg should decode it (also a WAV at another rate longer than
 * RESAMPLE_MAX_FRAMES, where ffmpeg's resampler is cheaper than its start-up). A malformed header throws DecodeFailed: the file
 * passed the upload's checks, so it was damaged since, and no retry will help.
 */
export async function pcmWavLayout(file: string, sampleRate: number): Promise<PcmWavLayout | null> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await fh.read(head, 0, head.length, 0);
    const layout = parsePcmWav(head, size);
    if (!layout) return null;
    if (layout.sampleRate === sampleRate) return layout;
    if (layout.dataBytes / layout.blockAlign > RESAMPLE_MAX_FRAMES) return null;
    return Resampler.supports(layout.sampleRate, sampleRate) ? layout : null;
  } catch (err) {
    if (err instanceof WavHeaderError) throw new DecodeFailed(err.message, true);
    throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Reads a PCM WAV (as `pcmWavLayout` found it) in-process into mono float32 blocks at
 * `sampleRate`: the same stream decodePcm gets from ffmpeg, without starting one. Stops at the
 * duration limit, checks for cancel per block, and fails with DecodeFailed when the file is
 * shorter than its header said.
 */
export async function* readPcmWav(layout: PcmWavLayout, o: WavSourceOptions): AsyncGenerator<Float32Array> {
  const fh = await open(o.inputPath, 'r');
  try {
    const resampler =
      layout.sampleRate === o.sampleRate ? null : new Resampler(layout.sampleRate, o.sampleRate);
    const maxFrames = Math.floor(o.maxDurationSec * layout.sampleRate);
    const totalFrames = Math.min(layout.dataBytes / layout.blockAlign, maxFrames);
    let samples = 0;
    const emit = (block: Float32Array) => {
      samples += block.length;
      o.onSamples?.(samples);
      return block;
    };
    for (let frame = 0; frame < totalFrames; ) {
      if (o.control.cancelled) throw new TaskCancelled();
      const frames = Math.min(BLOCK_FRAMES, totalFrames - frame);
      const bytes = Buffer.alloc(frames * layout.blockAlign);
      const { bytesRead } = await fh.read(
        bytes,
        0,
        bytes.length,
        layout.dataOffset + frame * layout.blockAlign,
      );
      if (bytesRead !== bytes.length)
        throw new DecodeFailed('the WAV file is shorter than its header says', true);
      frame += frames;
      const mono = toMono(layout, bytes);
      const out = resampler ? resampler.push(mono) : mono;
      if (out.length > 0) yield emit(out);
    }
    const tail = resampler?.end();
    if (tail && tail.length > 0) yield emit(tail);
    if (samples === 0) throw new DecodeFailed('no audio samples decoded');
  } finally {
    await fh.close();
  }
}
