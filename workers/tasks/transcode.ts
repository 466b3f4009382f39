import { createInterface } from 'node:readline';
import { encodeFailure, encoderReason } from './encoded-output.js';
import { collectStderr, exitOf, spawnTranscoder, type TranscodeOptions } from './ffmpeg.js';
import { DecodeFailed, TaskCancelled } from './pcm-source.js';
import type { TaskControl } from './task-types.js';

export interface TranscodeRun extends TranscodeOptions {
  control: TaskControl;
  /** Called with the seconds of audio written so far. */
  onSeconds?: (seconds: number) => void;
}

/**
 * ffmpeg's words for a failure on the output side (the folder, the disk; or any line naming the
 * output file); any other failure of
 * the one ffmpeg is the input's, as a decoder's was when decoding and encoding were two processes.
 */
const OUTPUT_SIDE =
  /Error opening output|No space left on device|Disk quota exceeded|File too large|Error writing trailer|Error muxing|av_interleaved_write_frame/i;

/**
 * Runs one ffmpeg from the input file to the output file and resolves with the seconds of audio
 * it wrote. Killed on cancel (a watchdog checks every 100 ms), on error and if the caller goes
 * away. A failure on the output side is the pipeline's (EncodeFailed, retried where that can help);
 * any other failure, or nothing written at all, means the input did not decode (DecodeFailed, final).
 */
export async function transcode(o: TranscodeRun): Promise<number> {
  const child = spawnTranscoder(o);
  const stderr = collectStderr(child.stderr);
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
  });
  const watchdog = setInterval(() => {
    if (o.control.cancelled) child.kill('SIGKILL');
  }, 100);
  let writtenUs = 0;
  try {
    for await (const line of createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (!line.startsWith('out_time_us=')) continue;
      const us = Number(line.slice('out_time_us='.length));
      if (Number.isFinite(us) && us > writtenUs) {
        writtenUs = us;
        o.onSeconds?.(us / 1e6);
      }
    }
    const code = await exitOf(child);
    if (o.control.cancelled) throw new TaskCancelled();
    if (spawnError) throw spawnError;
    if (code !== 0 && (OUTPUT_SIDE.test(stderr()) || stderr().includes(o.outputPath)))
      throw encodeFailure(stderr(), code);
    if (code !== 0) throw new DecodeFailed(encoderReason(stderr(), code));
    if (writtenUs <= 0) throw new DecodeFailed('no audio samples decoded');
    return writtenUs / 1e6;
  } finally {
    clearInterval(watchdog);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exitOf(child);
  }
}
