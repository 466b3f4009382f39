import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { parseVoiceProfile, SOURCE_ANALYSIS_SECONDS } from '../engine/index.js';
import { EncodedOutput } from './encoded-output.js';
import { engineFor } from './engines.js';
import { FirstAudioClock } from './first-audio.js';
import { failureOutcome } from './outcome.js';
import { PcmHead } from './pcm-head.js';
import { pcmReaderFor } from './pcm-input.js';
import { TaskCancelled } from './pcm-source.js';
import { referenceRefusal } from './reference-check.js';
import { type CloneTask, type ConvertTask, TaskControl, type TaskOutcome } from './task-types.js';

/** The analysis costs about an eighth of the conversion per second of audio (measured): its share of the bar. */
const ANALYSIS_WEIGHT = 1 / 8;

/**
 * Voice conversion through the model, streaming over one read of the input: the source's
 * statistics come from its first SOURCE_ANALYSIS_SECONDS (kept in memory), then the whole input
 * (that head, then the rest of the same read) is converted and encoded, so the first audio comes
 * after a bounded analysis whatever the length, and memory stays bounded (the model measures the
 * shifted source's envelope within the conversion). Written under a partial name, renamed on
 * success; on cancel or error every ffmpeg child is killed and the partial file removed.
 */
export async function runVoiceConversion(task: ConvertTask): Promise<TaskOutcome> {
  const voice = task.voice;
  if (!voice) throw new Error('runVoiceConversion needs task.voice');
  const started = Date.now();
  const clock = new FirstAudioClock();
  const control = new TaskControl(task.control);
  let output: EncodedOutput | undefined;
  let head: PcmHead | undefined;
  try {
    control.report('starting', 0);
    const engine = await engineFor(voice.modelDir);
    clock.mark('engine');
    const target = parseVoiceProfile(JSON.parse(await readFile(voice.profilePath, 'utf8')));
    const rate = engine.sampleRate;
    const expected = Math.max(1, task.durationSec * rate);
    const decode = await pcmReaderFor({
      inputPath: task.inputPath,
      demuxer: task.demuxer,
      sampleRate: rate,
      maxDurationSec: task.maxDurationSec,
      control,
    });
    clock.mark('decoding');
    control.report('analysing', 0);
    head = await PcmHead.read(decode(), SOURCE_ANALYSIS_SECONDS * rate);
    clock.mark('headRead');
    const analysed = Math.min(expected, SOURCE_ANALYSIS_SECONDS * rate) * ANALYSIS_WEIGHT;
    const source = await engine.analyse(head.blocks, {
      label: 'source',
      seconds: SOURCE_ANALYSIS_SECONDS,
    });
    clock.mark('analysed');
    const share = (n: number) => Math.min(0.99, (analysed + Math.min(n, expected)) / (analysed + expected));
    control.report('converting', share(0));
    const input = head.all((n) => control.report('converting', share(n)));
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
      clock.mark('firstBlock');
      await output.write(block);
      clock.mark('firstWrite');
      control.reportWritten(output.samples / outRate);
      // Until the encoder's first bytes are on disk (a stat per block, only until then).
      if (!clock.has('firstBytes') && (await output.bytesOnDisk()) > 0) clock.mark('firstBytes');
    }
    control.report('encoding', 0.99);
    const bytes = await output.finish();
    control.report('finalizing', 1);
    return {
      status: 'completed',
      bytes,
      durationSec: output.samples / outRate,
      processingMs: Date.now() - started,
      firstAudio: clock.times,
    };
  } catch (err) {
    await output?.abort();
    return failureOutcome(err, control.cancelled);
  } finally {
    await head?.close();
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
    const analysis = await engine.analyseReference(
      decode((n) => control.report('analysing', Math.min(0.99, n / expected))),
      { label: task.label },
    );
    const refusal = referenceRefusal(analysis);
    if (refusal) return { status: 'failed', ...refusal, retryable: false };
    const profile = analysis.profile;
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
