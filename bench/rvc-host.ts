import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { buildRvcTestModel } from '../models/builder/rvc-test-model.js';
import { writeModel } from '../models/builder/write-model.js';
import { decodeFile } from '../test/helpers/audio-io.js';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { frameNoise, VoiceConversionEngine, type VoiceProfile } from '../workers/engine/index.js';
import { pinCurrentThread } from '../workers/pool/cpu-affinity.js';
import { allowedCores } from '../workers/pool/index.js';

/**
 * What the host adds to an RVC model's own graphs, per second of audio, on one pinned thread: a
 * whole conversion through the engine (16 kHz in, 40 kHz out, the stand-in ContentVec and
 * generator of models/builder/rvc-test-model.ts) against the same two graphs run directly on the
 * same windows with ready-made inputs (the baseline, same run). The difference is the host's
 * work: the F0 tracker graph, feature fitting and repeat, coarse bins, noise, cutting, limiter.
 * The stand-in graphs are trivial, so only the difference (ms per second of audio) carries over
 * to a real export, whose generator costs far more.
 *   node dist/bench/rvc-host.js [SECONDS=60] [RUNS=5]
 */
const SECONDS = Number(process.argv[2] ?? 60);
const RUNS = Number(process.argv[3] ?? 5);
const RATE = 16000;

const core = allowedCores().at(-1) ?? 0;
const pin = pinCurrentThread(core);
console.log(pin.error ? `not pinned: ${pin.error}` : `pinned to core ${pin.core}`);

const dir = await mkdtemp(join(tmpdir(), 'vcfarm-bench-rvc-'));
try {
  await writeModel(buildRvcTestModel(), dir);
  const engine = await VoiceConversionEngine.load(dir);
  const m = engine.manifest;
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const };
  const vec = await InferenceSession.create(join(dir, 'vec.onnx'), options);
  const generator = await InferenceSession.create(join(dir, 'generator.onnx'), options);
  const tracker = await InferenceSession.create(join(dir, 'f0.onnx'), options);

  const speech = await decodeFile(humanSpeech(4), { sampleRate: RATE });
  const pcm = new Float32Array(SECONDS * RATE);
  for (let i = 0; i < pcm.length; i += speech.length) pcm.set(speech.subarray(0, pcm.length - i), i);
  const voice = { ...(await engine.analyse([pcm.subarray(0, 10 * RATE)])), speakerId: 0 } as VoiceProfile;

  const window = m.context.left + m.chunkSamples + m.context.right;
  const windows = Math.ceil(pcm.length / m.chunkSamples);
  const frames = window / 160;
  const feats = Float32Array.from({ length: frames * 768 }, (_, i) => (i % 7) / 7);
  const hz = new Float32Array(frames).fill(200);
  const ready = {
    phone: new Tensor('float32', feats, [1, frames, 768]),
    phone_lengths: new Tensor('int64', BigInt64Array.from([BigInt(frames)]), [1]),
    pitch: new Tensor('int64', new BigInt64Array(frames).fill(54n), [1, frames]),
    pitchf: new Tensor('float32', hz, [1, frames]),
    ds: new Tensor('int64', BigInt64Array.from([0n]), [1]),
    rnd: new Tensor('float32', new Float32Array(192 * frames), [1, 192, frames]),
  };
  const audio = (from: number) => {
    const w = new Float32Array(window);
    w.set(pcm.subarray(Math.max(0, from), Math.min(pcm.length, from + window)));
    return w;
  };

  const cpuSeconds = async (job: () => Promise<unknown>): Promise<number> => {
    const c0 = process.cpuUsage();
    await job();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
  const jobs = {
    engine: async () => {
      for await (const _ of engine.convert([pcm], { voice })) {
        // drain
      }
    },
    graphs: async () => {
      for (let k = 0; k < windows; k++) {
        const a = audio(k * m.chunkSamples - m.context.left);
        await vec.run({ source: new Tensor('float32', a, [1, 1, window]) });
        await generator.run(ready);
      }
    },
    tracker: async () => {
      for (let k = 0; k < windows; k++) {
        const a = audio(k * m.chunkSamples - m.context.left);
        await tracker.run({ audio: new Tensor('float32', a, [1, window]) });
      }
    },
    noise: async () => {
      const out = new Float32Array(192 * frames);
      for (let k = 0; k < windows; k++) {
        for (let c = 0; c < 192; c++)
          for (let f = 0; f < frames; f++) out[c * frames + f] = frameNoise(1, k * 400 + f, c);
      }
    },
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const job of Object.values(jobs)) await job();
  const results: Record<string, number> = {};
  for (const [name, job] of Object.entries(jobs)) {
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) times.push(await cpuSeconds(job));
    results[name] = median(times);
  }
  const perSecond = (s: number) => `${((s / SECONDS) * 1000).toFixed(2)} ms`;
  console.log(
    `${SECONDS} s of speech, ${windows} windows of ${window} samples, CPU time per second of audio (median of ${RUNS}):`,
  );
  console.log(`  engine, whole conversion: ${perSecond(results.engine)}`);
  console.log(`  the two graphs alone (baseline): ${perSecond(results.graphs)}`);
  console.log(
    `  host overhead: ${perSecond(results.engine - results.graphs)} ` +
      `(of it F0 tracker graph ${perSecond(results.tracker)}, noise ${perSecond(results.noise)}); ` +
      `engine / baseline ${(results.engine / results.graphs).toFixed(2)}`,
  );
  await Promise.all([engine.close(), vec.release(), generator.release(), tracker.release()]);
} finally {
  await rm(dir, { recursive: true, force: true });
}
