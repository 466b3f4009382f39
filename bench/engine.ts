import { fileURLToPath } from 'node:url';
import { parseVoiceProfile, VoiceConversionEngine } from '../workers/engine/index.js';

// Seconds of audio processed per second of wall time on one thread (ORT is single-threaded per session),
// per pass and for a whole conversion (every pass the pool task runs: analyse the source, then convert).
// CPU time is printed too: on a shared machine it moves less than wall time.
// Usage: bench/engine.js [MODEL_DIR] (default models/default; the voice comes from models/default/voices).
const MODEL_DIR = process.argv[2] ?? fileURLToPath(new URL('../../models/default/', import.meta.url));
const VOICES = fileURLToPath(new URL('../../models/default/voices/', import.meta.url));
const SECONDS = 30;

const engine = await VoiceConversionEngine.load(MODEL_DIR);
const { readFile } = await import('node:fs/promises');
const voice = parseVoiceProfile(JSON.parse(await readFile(`${VOICES}espeak-m3.json`, 'utf8')));
const sr = engine.sampleRate;
const pcm = Float32Array.from({ length: SECONDS * sr }, (_, i) => {
  const f0 = 180 + 30 * Math.sin(i / sr);
  return 0.3 * Math.sin((2 * Math.PI * f0 * i) / sr) + 0.01 * Math.sin(i * 1.7);
});
const blocks = function* (): Generator<Float32Array> {
  for (let i = 0; i < pcm.length; i += 4096) yield pcm.subarray(i, i + 4096);
};

const time = async (label: string, job: () => Promise<unknown>): Promise<void> => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await job();
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  console.log(
    `${label}: ${(SECONDS / s).toFixed(1)}x real time (${s.toFixed(2)} s for ${SECONDS} s; ` +
      `CPU ${cpu.toFixed(2)} s, ${(SECONDS / cpu).toFixed(1)}x)`,
  );
};

let source = voice;
const analyse = async (): Promise<void> => {
  source = await engine.analyse(blocks());
};
const convert = async (): Promise<void> => {
  for await (const _ of engine.convert(blocks(), { voice, sourceProfile: source })) {
    // drain
  }
};
await time('analyse', analyse);
await time('convert', convert);
await time('conversion (analyse + convert)', async () => {
  await analyse();
  await convert();
});
await engine.close();
