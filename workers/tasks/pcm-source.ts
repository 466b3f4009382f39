import { encoderReason } from './encoded-output.js';
import type { DecodeProcess } from './ffmpeg.js';
import { collectStderr, exitOf, spawnDecoder } from './ffmpeg.js';
import type { TaskControl } from './task-types.js';

export class TaskCancelled extends Error {}
/**
 * The input did not decode. `ownWords`: the message is vcfarm's own (e.g. the WAV header reader's)
 * and may be shown to the user; otherwise it is a tool's and goes to the log only.
 */
export class DecodeFailed extends Error {
  constructor(
    message: string,
    readonly ownWords = false,
  ) {
    super(message);
  }
}

export interface PcmStreamOptions {
  inputPath: string;
  demuxer: string;
  sampleRate: number;
  maxDurationSec: number;
  control: TaskControl;
  /** Called with the number of samples read so far. */
  onSamples?: (samples: number) => void;
}

/**
 * Decodes one file with ffmpeg into mono float32 blocks at `sampleRate`, as an async iterable.
 * The decoder is killed when the consumer stops early, on cancel (checked per block and by a
 * watchdog) and on error; a failed decode throws DecodeFailed after the last block.
 */
export async function* decodePcm(o: PcmStreamOptions): AsyncGenerator<Float32Array> {
  const decoder: DecodeProcess = spawnDecoder({
    inputPath: o.inputPath,
    demuxer: o.demuxer,
    sampleRate: o.sampleRate,
    maxDurationSec: o.maxDurationSec,
  });
  const stderr = collectStderr(decoder.stderr);
  let spawnError: Error | undefined;
  decoder.on('error', (e) => {
    spawnError = e;
  });
  const watchdog = setInterval(() => {
    if (o.control.cancelled) decoder.kill('SIGKILL');
  }, 100);
  let samples = 0;
  let carry: Buffer | undefined;
  try {
    for await (const data of decoder.stdout as AsyncIterable<Buffer>) {
      if (o.control.cancelled) throw new TaskCancelled();
      let bytes = carry ? Buffer.concat([carry, data]) : data;
      const whole = bytes.length - (bytes.length % 4);
      carry = whole < bytes.length ? Buffer.from(bytes.subarray(whole)) : undefined;
      bytes = bytes.subarray(0, whole);
      if (bytes.length === 0) continue;
      // Copy into an aligned array: Buffer slices need not be 4-byte aligned.
      const block = new Float32Array(bytes.length / 4);
      Buffer.from(block.buffer).set(bytes);
      samples += block.length;
      o.onSamples?.(samples);
      yield block;
    }
    const code = await exitOf(decoder);
    if (o.control.cancelled) throw new TaskCancelled();
    if (spawnError) throw spawnError;
    if (code !== 0 || samples === 0) {
      throw new DecodeFailed(code !== 0 ? encoderReason(stderr(), code) : 'no audio samples decoded');
    }
  } finally {
    clearInterval(watchdog);
    if (decoder.exitCode === null && decoder.signalCode === null) decoder.kill('SIGKILL');
    await exitOf(decoder);
  }
}
