import { fileURLToPath } from 'node:url';
import { parseVoiceProfile, VoiceConversionEngine } from '../workers/engine/index.js';

// Seconds of audio processed per second of wall time on one thread (ORT is single-threaded per session).
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
  const t0 = performance.now();
  await job();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label}: ${(SECONDS / s).toFixed(1)}x real time (${s.toFixed(2)} s for ${SECONDS} s)`);
};

let source = voice;
await time('analyse', async () => {
  source = await engine.analyse(blocks());
});
await time('analyseShifted', () => engine.analyseShifted(blocks(), { voice, sourceProfile: source }));
await time('convert', async () => {
  for await (const _ of engine.convert(blocks(), { voice, sourceProfile: source })) {
    // drain
  }
});
await engine.close();
