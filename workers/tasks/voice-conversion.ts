import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { parseVoiceProfile } from '../engine/index.js';
import { EncodedOutput } from './encoded-output.js';
import { engineFor } from './engines.js';
import { failureOutcome } from './outcome.js';
import { pcmReaderFor } from './pcm-input.js';
import { PcmReplay } from './pcm-replay.js';
import { TaskCancelled } from './pcm-source.js';
import { type CloneTask, type ConvertTask, TaskControl, type TaskOutcome } from './task-types.js';

/** Share of the progress bar each pass takes: source analysis, conversion (measured: ~1:8 in time). */
const PASSES = [0.1, 0.9] as const;
/** Inputs up to this long are decoded once and replayed for the second pass (11 MB at 24 kHz). */
const REPLAY_MAX_SEC = 120;

/**
 * Voice conversion through the model, streaming in two passes over the input: analyse the
 * source, then convert and encode (the model measures the shifted source's envelope within that
 * pass). The second pass replays short inputs from memory and decodes longer ones again, so
 * memory stays bounded for any length. Written under a partial name, renamed on success; on
 * cancel or error every ffmpeg child is killed and the partial file removed.
 */
export async function runVoiceConversion(task: ConvertTask): Promise<TaskOutcome> {
  const voice = task.voice;
  if (!voice) throw new Error('runVoiceConversion needs task.voice');
  const started = Date.now();
  const control = new TaskControl(task.control);
  let output: EncodedOutput | undefined;
  try {
    control.report('starting', 0);
    const engine = await engineFor(voice.modelDir);
    const target = parseVoiceProfile(JSON.parse(await readFile(voice.profilePath, 'utf8')));
    const rate = engine.sampleRate;
    const expected = Math.max(1, task.durationSec * rate);
    const progress = (index: number, stage: 'analysing' | 'converting') => {
      const base = PASSES.slice(0, index).reduce((a, b) => a + b, 0);
      return (n: number) =>
        control.report(stage, Math.min(0.99, base + PASSES[index] * Math.min(1, n / expected)));
    };
    const decode = await pcmReaderFor({
      inputPath: task.inputPath,
      demuxer: task.demuxer,
      sampleRate: rate,
      maxDurationSec: task.maxDurationSec,
      control,
    });

    const replay = new PcmReplay(REPLAY_MAX_SEC * rate);
    const source = await engine.analyse(replay.record(decode(progress(0, 'analysing'))), {
      label: 'source',
    });
    const converting = progress(1, 'converting');
    const input = replay.complete ? replay.play(converting) : decode(converting);
    const options = {
      voice: target,
      sourceProfile: source,
      strength: voice.strength,
      semitones: task.pitchSemitones,
    };
    // A model may give another rate than it takes (an RVC generator: 16 kHz in, 40 kHz out).
    const outRate = engine.outputSampleRate;
    output = await EncodedOutput.open(task, outRate);
    for await (const block of engine.convert(input, options)) {
      if (control.cancelled) throw new TaskCancelled();
      await output.write(block);
      control.reportWritten(output.samples / outRate);
    }
    control.report('encoding', 0.99);
    const bytes = await output.finish();
    control.report('finalizing', 1);
    return {
      status: 'completed',
      bytes,
      durationSec: output.samples / outRate,
      processingMs: Date.now() - started,
    };
  } catch (err) {
    await output?.abort();
    return failureOutcome(err, control.cancelled);
  }
}

/** Analyses a reference recording into the target voice profile of a clone. */
export async function runClone(task: CloneTask): Promise<TaskOutcome> {
  const started = Date.now();
  const control = new TaskControl(task.control);
  const tmp = `${task.profilePath}.part`;
  try {
    control.report('starting', 0);
    const engine = await engineFor(task.modelDir);
    const expected = Math.max(1, task.durationSec * engine.sampleRate);
    const decode = await pcmReaderFor({
      inputPath: task.inputPath,
      demuxer: task.demuxer,
      sampleRate: engine.sampleRate,
      maxDurationSec: task.maxDurationSec,
      control,
    });
    const profile = await engine.analyse(
      decode((n) => control.report('analysing', Math.min(0.99, n / expected))),
      { label: task.label },
    );
    if (!(profile.voicedSeconds > 0.5)) {
      return {
        status: 'failed',
        code: 'VC_ERR_NO_VOICE',
        message: 'the reference recording has too little voiced speech',
        retryable: false,
      };
    }
    await writeFile(tmp, JSON.stringify(profile), { mode: 0o600 });
    await rename(tmp, task.profilePath);
    control.report('finalizing', 1);
    return {
      status: 'cloned',
      f0Median: profile.f0Median,
      voicedSeconds: profile.voicedSeconds,
      processingMs: Date.now() - started,
    };
  } catch (err) {
    await rm(tmp, { force: true });
    return failureOutcome(err, control.cancelled);
  }
}
