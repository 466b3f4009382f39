import { once } from 'node:events';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseVoiceProfile } from '../engine/index.js';
import { engineFor } from './engines.js';
import { collectStderr, exitOf, spawnEncoder } from './ffmpeg.js';
import { DecodeFailed, decodePcm, TaskCancelled } from './pcm-source.js';
import { type CloneTask, type ConvertTask, TaskControl, type TaskOutcome } from './task-types.js';

/** Share of the progress bar each pass takes: source analysis, conversion (measured: ~1:8 in time). */
const PASSES = [0.1, 0.9] as const;

function failure(err: unknown): TaskOutcome {
  if (err instanceof TaskCancelled) return { status: 'cancelled' };
  if (err instanceof DecodeFailed) {
    return {
      status: 'failed',
      code: 'VC_ERR_UNDECODABLE_AUDIO',
      message: `the input could not be decoded: ${err.message}`,
      retryable: false,
    };
  }
  const e = err as Error & { code?: string };
  if (typeof e.code === 'string' && e.code.startsWith('VC_ERR_')) {
    return { status: 'failed', code: e.code, message: e.message, retryable: false };
  }
  return { status: 'failed', code: 'VC_ERR_PIPELINE', message: e.message, retryable: true };
}

/**
 * Voice conversion through the model, streaming in two passes over the input (each a fresh
 * ffmpeg decode, so memory stays bounded for any length): analyse the source, then convert and
 * encode (the model measures the shifted source's envelope within that pass). Written under a
 * partial name, renamed on success; on cancel or error every ffmpeg child is killed and the
 * partial file removed.
 */
export async function runVoiceConversion(task: ConvertTask): Promise<TaskOutcome> {
  const voice = task.voice;
  if (!voice) throw new Error('runVoiceConversion needs task.voice');
  const started = Date.now();
  const control = new TaskControl(task.control);
  const part = path.join(
    path.dirname(task.outputPath),
    `.${path.basename(task.outputPath)}.${task.attempt}.part`,
  );
  let encoder: ReturnType<typeof spawnEncoder> | undefined;
  try {
    control.report('starting', 0);
    const engine = await engineFor(voice.modelDir);
    const target = parseVoiceProfile(JSON.parse(await readFile(voice.profilePath, 'utf8')));
    const rate = engine.sampleRate;
    const expected = Math.max(1, task.durationSec * rate);
    const pass = (index: number, stage: 'analysing' | 'converting') => {
      const base = PASSES.slice(0, index).reduce((a, b) => a + b, 0);
      return decodePcm({
        inputPath: task.inputPath,
        demuxer: task.demuxer,
        sampleRate: rate,
        maxDurationSec: task.maxDurationSec,
        control,
        onSamples: (n) =>
          control.report(stage, Math.min(0.99, base + PASSES[index] * Math.min(1, n / expected))),
      });
    };

    const source = await engine.analyse(pass(0, 'analysing'), { label: 'source' });
    const options = {
      voice: target,
      sourceProfile: source,
      strength: voice.strength,
      semitones: task.pitchSemitones,
    };

    encoder = spawnEncoder(part, task.outputFormat, rate);
    const enc = encoder;
    // One exit promise for the whole run: racing a fresh one per write would pile up listeners.
    const encoderExit = exitOf(enc);
    const encodeErr = collectStderr(enc.stderr);
    enc.stdin.on('error', () => {});
    let samples = 0;
    for await (const block of engine.convert(pass(1, 'converting'), options)) {
      if (control.cancelled) throw new TaskCancelled();
      samples += block.length;
      if (!enc.stdin.write(Buffer.from(block.buffer, block.byteOffset, block.byteLength))) {
        await Promise.race([once(enc.stdin, 'drain'), encoderExit]);
      }
    }
    control.report('encoding', 0.99);
    enc.stdin.end();
    const code = await encoderExit;
    if (control.cancelled) throw new TaskCancelled();
    if (code !== 0) throw new Error(`encoding failed: ${encodeErr() || `ffmpeg exit ${code}`}`);
    control.report('finalizing', 1);
    await rename(part, task.outputPath);
    const { size } = await stat(task.outputPath);
    return {
      status: 'completed',
      bytes: size,
      durationSec: samples / rate,
      processingMs: Date.now() - started,
    };
  } catch (err) {
    if (encoder && encoder.exitCode === null && encoder.signalCode === null) encoder.kill('SIGKILL');
    if (encoder) await exitOf(encoder);
    await rm(part, { force: true });
    return failure(control.cancelled ? new TaskCancelled() : err);
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
    const profile = await engine.analyse(
      decodePcm({
        inputPath: task.inputPath,
        demuxer: task.demuxer,
        sampleRate: engine.sampleRate,
        maxDurationSec: task.maxDurationSec,
        control,
        onSamples: (n) => control.report('analysing', Math.min(0.99, n / expected)),
      }),
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
    return failure(control.cancelled ? new TaskCancelled() : err);
  }
}
