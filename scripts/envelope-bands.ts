import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { filterPcm } from '../test/helpers/audio-io.js';
import { engineConverter } from '../test/helpers/engine-converter.js';
import { JUDGE_PAIRS } from '../test/helpers/judge.js';
import { firstPart, lastPart, PcmCache, speakers } from '../test/helpers/librispeech.js';
import { envelopeDistanceDb, MEASURE_RATE, meanEnvelopeDb } from '../test/helpers/voice-measures.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

/**
 * Where the judge's envelope distance (voice-measures.ts meanEnvelopeDb, 50 Hz-7 kHz, level removed) sits,
 * by band, for one or more model folders on some of the judge's conversions, and how far each output lies
 * from the target's held-out part with its sub-voice band taken out (ffmpeg highpass, `--highpass` Hz): if
 * a model's output is far from the target but near the high-passed target, the distance is the recording's
 * own rumble spread by the judge's 1.5 ms lifter, not the voice. The judge's measures are used as they are.
 *   node dist/scripts/envelope-bands.js --models DIR[,DIR...] [--pairs 0,4,23] [--highpass 70]
 */
const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    pairs: { type: 'string', default: '0,4,23,26' },
    highpass: { type: 'string', default: '70' },
  },
});
const dirs = (values.models ?? new URL('../../models/default/', import.meta.url).pathname)
  .split(',')
  .map((d) => resolve(d));
const pairs = values.pairs.split(',').map((i) => JUDGE_PAIRS[Number(i)]);
const highpass = Number(values.highpass);
const BANDS: [number, number][] = [
  [50, 300],
  [300, 1000],
  [1000, 3000],
  [3000, 7000],
];
/** meanEnvelopeDb's bins: 512-point FFT at 16 kHz from ceil(50 Hz) on. */
const hzOf = (i: number) => (Math.ceil((50 * 512) / MEASURE_RATE) + i) * (MEASURE_RATE / 512);
function bandDistances(a: Float64Array, b: Float64Array): string {
  return BANDS.map(([lo, hi]) => {
    let s = 0;
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      const hz = hzOf(i);
      if (hz < lo || hz >= hi) continue;
      s += (a[i] - b[i]) ** 2;
      n++;
    }
    return Math.sqrt(s / n)
      .toFixed(2)
      .padStart(6);
  }).join('');
}

const work = await mkdtemp(join(tmpdir(), 'vcfarm-bands-'));
const cache = new PcmCache(work);
const list = speakers();
const at16 = async (id: string) => {
  const s = list.find((x) => x.id === id);
  if (!s) throw new Error(`speaker ${id} not found`);
  return cache.decode(s.file, MEASURE_RATE);
};
try {
  console.log(
    `distance to the target's held-out part, dB, by band ${BANDS.map((b) => b.join('-')).join(', ')} Hz`,
  );
  console.log(`and overall (the judge's), then overall to that part high-passed at ${highpass} Hz`);
  for (const dir of dirs) {
    const engine = await VoiceConversionEngine.load(dir);
    const convert = engineConverter(engine);
    console.log(`model ${dir}`);
    for (const pair of pairs) {
      const source = await at16(pair.source);
      const target = await at16(pair.target);
      const held = lastPart(target);
      const heldHp = await filterPcm(held, {
        sampleRate: MEASURE_RATE,
        filter: `highpass=f=${highpass}:poles=2,highpass=f=${highpass}:poles=2`,
      });
      const rate = engine.sampleRate;
      const up = (pcm: Float32Array) => cache.resample(pcm, MEASURE_RATE, rate);
      const out = await convert({
        source: await up(source),
        clone: await up(firstPart(target)),
        sampleRate: rate,
        pair,
      });
      const out16 = await cache.resample(out.pcm, out.sampleRate, MEASURE_RATE);
      const [eOut, eSrc, eTgt, eHp] = [out16, source, held, heldHp].map((p) =>
        meanEnvelopeDb(p, MEASURE_RATE),
      );
      console.log(
        `  ${`${pair.source}->${pair.target}`.padEnd(11)} source ${bandDistances(eSrc, eTgt)} ${envelopeDistanceDb(eSrc, eTgt).toFixed(2).padStart(6)} hp ${envelopeDistanceDb(eSrc, eHp).toFixed(2).padStart(6)}`,
      );
      console.log(
        `  ${''.padEnd(11)} output ${bandDistances(eOut, eTgt)} ${envelopeDistanceDb(eOut, eTgt).toFixed(2).padStart(6)} hp ${envelopeDistanceDb(eOut, eHp).toFixed(2).padStart(6)}`,
      );
    }
    await engine.close();
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
