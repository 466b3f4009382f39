import { PLAIN_OUTPUT_RATE } from '../../src/media/index.js';
import { EncodedOutput } from './encoded-output.js';
import { failureOutcome } from './outcome.js';
import { decodePcm } from './pcm-source.js';
import { type ConvertTask, TaskControl, type TaskOutcome } from './task-types.js';

/** Sample rate of the PCM that flows from decoder to encoder (and of the output). */
export const PIPELINE_SAMPLE_RATE = PLAIN_OUTPUT_RATE;

/**
 * A conversion without a target voice: ffmpeg decode (with the rubberband pitch shift, formants
 * kept) streamed into the ffmpeg encoder. Written under a partial name and renamed only on
 * success; on cancel or error both ffmpeg children are killed and the partial file removed.
 */
export async function runConversion(task: ConvertTask): Promise<TaskOutcome> {
  const started = Date.now();
  const control = new TaskControl(task.control);
  let output: EncodedOutput | undefined;
  try {
    control.report('starting', 0);
    output = await EncodedOutput.open(task, PIPELINE_SAMPLE_RATE);
    const expected = Math.max(1, task.durationSec * PIPELINE_SAMPLE_RATE);
    control.report('converting', 0);
    const pcm = decodePcm({
      inputPath: task.inputPath,
      demuxer: task.demuxer,
      sampleRate: PIPELINE_SAMPLE_RATE,
      maxDurationSec: task.maxDurationSec,
      pitchRatio: 2 ** (task.pitchSemitones / 12),
      control,
      onSamples: (n) => control.report('converting', Math.min(0.99, n / expected)),
    });
    for await (const block of pcm) await output.write(block);
    control.report('encoding', 0.99);
    const bytes = await output.finish();
    control.report('finalizing', 1);
    return {
      status: 'completed',
      bytes,
      durationSec: output.samples / PIPELINE_SAMPLE_RATE,
      processingMs: Date.now() - started,
    };
  } catch (err) {
    await output?.abort();
    return failureOutcome(err, control.cancelled);
  }
}
