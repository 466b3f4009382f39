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
 * Runs one ffmpeg from the input file to the output file and resolves with the seconds of audio
 * it wrote. Killed on cancel (a watchdog checks every 100 ms), on error and if the caller goes
 * away. Nothing written at all means the input did not decode (DecodeFailed, not worth a retry);
 * a failure after some output is the pipeline's (EncodeFailed, retried).
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
    if (writtenUs <= 0)
      throw new DecodeFailed(code !== 0 ? encoderReason(stderr(), code) : 'no audio samples decoded');
    if (code !== 0) throw encodeFailure(stderr(), code);
    return writtenUs / 1e6;
  } finally {
    clearInterval(watchdog);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exitOf(child);
  }
}
