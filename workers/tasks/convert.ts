import { PLAIN_OUTPUT_RATE } from '../../src/media/index.js';
import { outputLimit } from './encoded-output.js';
import { failureOutcome } from './outcome.js';
import { PartialOutput } from './partial-output.js';
import { type ConvertTask, TaskControl, type TaskOutcome } from './task-types.js';
import { transcode } from './transcode.js';

/** Sample rate of the PCM that flows from decoder to encoder (and of the output). */
export const PIPELINE_SAMPLE_RATE = PLAIN_OUTPUT_RATE;

/**
 * A conversion without a target voice: one ffmpeg decodes, downmixes, resamples, shifts the pitch
 * (rubberband, formants kept) and encodes, as a bare ffmpeg command would. Written under a
 * partial name and renamed only on success; on cancel or error ffmpeg is killed and the partial
 * file removed.
 */
export async function runConversion(task: ConvertTask): Promise<TaskOutcome> {
  const started = Date.now();
  const control = new TaskControl(task.control);
  let part: PartialOutput | undefined;
  try {
    control.report('starting', 0);
    part = await PartialOutput.claim(task);
    const maxBytes = outputLimit(task.maxOutputBytes);
    const expectedSec = Math.max(1e-3, task.durationSec);
    control.report('converting', 0);
    const durationSec = await transcode({
      inputPath: task.inputPath,
      demuxer: task.demuxer,
      sampleRate: PIPELINE_SAMPLE_RATE,
      maxDurationSec: task.maxDurationSec,
      pitchRatio: 2 ** (task.pitchSemitones / 12),
      outputPath: part.path,
      format: task.outputFormat,
      maxBytes,
      control,
      onSeconds: (s) => {
        control.reportWritten(s);
        control.report('converting', Math.min(0.99, s / expectedSec));
      },
    });
    // ffmpeg's -fs ends a file that reached the limit as if it were complete: refuse it here.
    if (maxBytes !== undefined) await part.assertBelow(maxBytes);
    control.report('finalizing', 1);
    const bytes = await part.commit();
    return { status: 'completed', bytes, durationSec, processingMs: Date.now() - started };
  } catch (err) {
    await part?.discard();
    return failureOutcome(err, control.cancelled);
  }
}
