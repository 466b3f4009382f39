import { once } from 'node:events';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { collectStderr, exitOf, spawnDecoder, spawnEncoder } from './ffmpeg.js';
import { type ConvertTask, TaskControl, type TaskOutcome } from './task-types.js';

/** Sample rate of the PCM that flows between decoder, model and encoder. */
export const PIPELINE_SAMPLE_RATE = 44_100;
/** Samples per chunk: fixed, so memory stays flat and progress moves steadily. */
export const CHUNK_SAMPLES = 8192;

/** Transforms mono float PCM chunk by chunk; the voice-conversion engine plugs in here. */
export interface ChunkProcessor {
  push(chunk: Float32Array): Float32Array[];
  flush(): Float32Array[];
}

export const passThrough: ChunkProcessor = { push: (c) => [c], flush: () => [] };

class Cancelled extends Error {}

/** Removes what earlier, crashed attempts of this job left behind. */
async function removeStaleParts(finalPath: string): Promise<void> {
  const dir = path.dirname(finalPath);
  const prefix = `.${path.basename(finalPath)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix) && n.endsWith('.part'))
      .map((n) => rm(path.join(dir, n), { force: true })),
  );
}

/**
 * Streams one file through ffmpeg decode → fixed-size chunks → processor → ffmpeg encode.
 * The output is written under a partial name and renamed only on success; on cancel or error
 * both ffmpeg children are killed and the partial file removed.
 */
export async function runConversion(
  task: ConvertTask,
  processor: ChunkProcessor = passThrough,
): Promise<TaskOutcome> {
  const started = Date.now();
  const control = new TaskControl(task.control);
  const part = path.join(
    path.dirname(task.outputPath),
    `.${path.basename(task.outputPath)}.${task.attempt}.part`,
  );
  await removeStaleParts(task.outputPath);
  control.report('starting', 0);

  const decoder = spawnDecoder({
    inputPath: task.inputPath,
    demuxer: task.demuxer,
    sampleRate: PIPELINE_SAMPLE_RATE,
    maxDurationSec: task.maxDurationSec,
    pitchRatio: 2 ** (task.pitchSemitones / 12),
  });
  const encoder = spawnEncoder(part, task.outputFormat, PIPELINE_SAMPLE_RATE);
  // One exit promise for the whole run: racing a fresh one per write would pile up listeners.
  const encoderExit = exitOf(encoder);
  const decodeErr = collectStderr(decoder.stderr);
  const encodeErr = collectStderr(encoder.stderr);
  let spawnError: Error | undefined;
  decoder.on('error', (e) => {
    spawnError = e;
  });
  encoder.on('error', (e) => {
    spawnError = e;
  });
  // A dead encoder turns writes into EPIPE; the exit code tells the story, so ignore the write error.
  encoder.stdin.on('error', () => {});

  const killAll = () => {
    decoder.kill('SIGKILL');
    encoder.kill('SIGKILL');
  };
  // Cancellation is polled as well as checked per chunk, so a stalled decoder cannot delay it.
  const watchdog = setInterval(() => {
    if (control.cancelled) killAll();
  }, 100);

  const expected = Math.max(1, task.durationSec * PIPELINE_SAMPLE_RATE);
  const chunkBytes = CHUNK_SAMPLES * 4;
  const pending = Buffer.alloc(chunkBytes);
  let pendingBytes = 0;
  let samplesOut = 0;

  const write = async (blocks: Float32Array[]) => {
    for (const block of blocks) {
      if (control.cancelled) throw new Cancelled();
      samplesOut += block.length;
      const ok = encoder.stdin.write(Buffer.from(block.buffer, block.byteOffset, block.byteLength));
      if (!ok) await Promise.race([once(encoder.stdin, 'drain'), encoderExit]);
      control.report('converting', Math.min(0.99, samplesOut / expected));
    }
  };
  const emitChunk = async (bytes: number) => {
    // Copy out of `pending`: the processor may keep references across calls.
    const chunk = new Float32Array(bytes / 4);
    Buffer.from(chunk.buffer).set(pending.subarray(0, bytes));
    await write(processor.push(chunk));
  };

  try {
    control.report('converting', 0);
    for await (const data of decoder.stdout as AsyncIterable<Buffer>) {
      if (control.cancelled) throw new Cancelled();
      let offset = 0;
      while (offset < data.length) {
        const n = Math.min(chunkBytes - pendingBytes, data.length - offset);
        data.copy(pending, pendingBytes, offset, offset + n);
        pendingBytes += n;
        offset += n;
        if (pendingBytes === chunkBytes) {
          await emitChunk(chunkBytes);
          pendingBytes = 0;
        }
      }
    }
    const whole = pendingBytes - (pendingBytes % 4);
    if (whole > 0) await emitChunk(whole);
    await write(processor.flush());
    const decodeCode = await exitOf(decoder);
    if (control.cancelled) throw new Cancelled();
    if (spawnError) throw spawnError;
    if (decodeCode !== 0 || samplesOut === 0) {
      encoder.kill('SIGKILL');
      await exitOf(encoder);
      await rm(part, { force: true });
      const why = decodeCode !== 0 ? decodeErr() || `ffmpeg exit ${decodeCode}` : 'no audio samples decoded';
      return {
        status: 'failed',
        code: 'VC_ERR_UNDECODABLE_AUDIO',
        message: `the input could not be decoded: ${why}`,
        retryable: false,
      };
    }
    control.report('encoding', 0.99);
    encoder.stdin.end();
    const encodeCode = await exitOf(encoder);
    if (control.cancelled) throw new Cancelled();
    if (encodeCode !== 0) {
      await rm(part, { force: true });
      return {
        status: 'failed',
        code: 'VC_ERR_PIPELINE',
        message: `encoding failed: ${encodeErr() || `ffmpeg exit ${encodeCode}`}`,
        retryable: true,
      };
    }
    control.report('finalizing', 1);
    await rename(part, task.outputPath);
    const { size } = await stat(task.outputPath);
    return {
      status: 'completed',
      bytes: size,
      durationSec: samplesOut / PIPELINE_SAMPLE_RATE,
      processingMs: Date.now() - started,
    };
  } catch (err) {
    killAll();
    await Promise.all([exitOf(decoder), exitOf(encoder)]);
    await rm(part, { force: true });
    if (err instanceof Cancelled || control.cancelled) return { status: 'cancelled' };
    const e = err as NodeJS.ErrnoException;
    return {
      status: 'failed',
      code: 'VC_ERR_PIPELINE',
      message: e.code === 'ENOENT' ? 'ffmpeg is not installed' : e.message,
      retryable: true,
    };
  } finally {
    clearInterval(watchdog);
  }
}
