import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { spawnMedia } from '../../src/media/index.js';

const execFileAsync = promisify(execFile);

export interface DecodeOptions {
  sampleRate: number;
  /** ffmpeg -af filter chain, e.g. the service's `rubberband=pitch=1.3:formant=preserved`. */
  filter?: string;
}

/** Runs ffmpeg with `args`, feeding `stdin` if given; resolves stdout. The child never outlives the call. */
async function ffmpeg(args: string[], stdin?: Buffer): Promise<Buffer> {
  const run = await spawnMedia('ffmpeg', ['-hide_banner', '-v', 'error', ...args], {
    stdin: stdin ?? Buffer.alloc(0),
  });
  if (run.code !== 0) throw new Error(`ffmpeg exited ${run.code}: ${run.stderr.trim()}`);
  return run.stdout;
}

/** Decodes any audio file to mono float32 at `sampleRate`, optionally through an ffmpeg filter. */
export async function decodeFile(path: string, options: DecodeOptions): Promise<Float32Array> {
  const filter = options.filter ? ['-af', options.filter] : [];
  const raw = await ffmpeg([
    '-i',
    path,
    ...filter,
    '-ac',
    '1',
    '-ar',
    String(options.sampleRate),
    '-f',
    'f32le',
    '-',
  ]);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/** Runs mono float32 PCM through ffmpeg (e.g. the rubberband pitch step) and returns float32 PCM. */
export async function filterPcm(pcm: Float32Array, options: DecodeOptions): Promise<Float32Array> {
  const input = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const sr = String(options.sampleRate);
  const filter = options.filter ? ['-af', options.filter] : [];
  const raw = await ffmpeg(
    ['-f', 'f32le', '-ar', sr, '-ac', '1', '-i', '-', ...filter, '-ar', sr, '-f', 'f32le', '-'],
    input,
  );
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/** Resamples mono float32 PCM from `from` to `to` Hz (ffmpeg's resampler). */
export async function resamplePcm(pcm: Float32Array, from: number, to: number): Promise<Float32Array> {
  const input = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const raw = await ffmpeg(
    ['-f', 'f32le', '-ar', String(from), '-ac', '1', '-i', '-', '-ar', String(to), '-f', 'f32le', '-'],
    input,
  );
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/** Writes mono float32 PCM to a WAV (16-bit) file. */
export async function writeWav(path: string, pcm: Float32Array, sampleRate: number): Promise<void> {
  const input = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  await ffmpeg(
    ['-y', '-f', 'f32le', '-ar', String(sampleRate), '-ac', '1', '-i', '-', '-c:a', 'pcm_s16le', path],
    input,
  );
}

/** Renders `text` with an espeak-ng voice (e.g. `en-us+f3`) to a WAV file; `wpm` sets the speed. */
export async function espeak(voice: string, text: string, path: string, wpm?: number): Promise<void> {
  const speed = wpm === undefined ? [] : ['-s', String(wpm)];
  await execFileAsync('espeak-ng', ['-v', voice, ...speed, '-w', path, text]);
}

/** Splits PCM into blocks of varying size, as a decoder pipe would deliver it. */
export function* blocks(
  pcm: Float32Array,
  sizes: readonly number[] = [4093, 1, 16384, 777, 30000],
): Generator<Float32Array> {
  let i = 0;
  for (let k = 0; i < pcm.length; k++) {
    const n = sizes[k % sizes.length];
    yield pcm.subarray(i, i + n);
    i += n;
  }
}

export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const SPEECH_TEXT =
  'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, ' +
  'and the shells she sells are surely seashells.';
const ALSA_SPEECH = [
  'Front_Center',
  'Front_Left',
  'Front_Right',
  'Rear_Center',
  'Rear_Left',
  'Rear_Right',
  'Side_Left',
  'Side_Right',
];

/**
 * Real-speech fixtures at `sampleRate`: `alsa` (one human speaker, the alsa-utils recordings concatenated)
 * and espeak-ng voices rendered into `dir`. A different text from the presets', so no test judges a voice
 * on the very audio its preset came from.
 */
export async function loadSpeech(
  dir: string,
  sampleRate: number,
  voices: readonly string[] = ['en-us+m3', 'en-us+f3'],
): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  const alsa = ALSA_SPEECH.map((n) => decodeFile(`/usr/share/sounds/alsa/${n}.wav`, { sampleRate }));
  out.alsa = concat(await Promise.all(alsa));
  for (const voice of voices) {
    const wav = `${dir}/${voice}.wav`;
    await espeak(voice, SPEECH_TEXT, wav);
    out[voice] = await decodeFile(wav, { sampleRate });
  }
  return out;
}
