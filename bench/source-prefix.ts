import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blocks, concat } from '../test/helpers/audio-io.js';
import { Judge } from '../test/helpers/judge.js';
import { firstPart, lastPart, PcmCache } from '../test/helpers/librispeech.js';
import {
  envelopeDistanceDb,
  formantError,
  MEASURE_RATE,
  meanEnvelopeDb,
  medianFormants,
  voicing,
} from '../test/helpers/voice-measures.js';
import {
  pitchMapFor,
  pitchRatioFor,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../workers/engine/index.js';

/**
 * How far a voice conversion moves when the source's statistics (median F0 and spread, formants,
 * envelope statistics) come from its first N seconds instead of the whole file (issue 16: time to
 * first audio). Long real inputs: the 20 male and the 20 female LibriSpeech utterances, each set
 * concatenated (about 285 s, a different talker every ~14 s: harder on a prefix than one talker
 * would be). Each is converted across gender toward a LibriSpeech voice cloned from the first
 * 60 % of its utterance, and the output is measured against the last 40 % with the judge's
 * measures. Per N: the source's median F0 and the pitch ratio (cents off whole-file), the spread
 * exponent, the largest formant difference, and of the output the F0 error, the formant error, the
 * envelope distance to the target and the judge's top-1 speaker. Also the analyse pass's time per N.
 *   node dist/bench/source-prefix.js [prefixes=20,30,60]
 */
const PREFIXES = (process.argv[2] ?? '20,30,60').split(',').map(Number);
const TARGETS = { male: '103', female: '1040' } as const;
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-prefix-bench-'));
const cache = new PcmCache(dir);
const engine = await VoiceConversionEngine.load(new URL('../../models/default/', import.meta.url).pathname);
const rate = engine.sampleRate;

const cents = (a: number, b: number) => 1200 * Math.log2(a / b);

async function convert(source: Float32Array, voice: VoiceProfile, sourceProfile: VoiceProfile) {
  const out: Float32Array[] = [];
  for await (const b of engine.convert(blocks(source), { voice, sourceProfile })) out.push(b);
  return concat(out);
}

try {
  const judge = await Judge.create(cache);
  for (const gender of ['male', 'female'] as const) {
    const ids = judge.speakers.filter((s) => s.gender === gender).map((s) => s.id);
    const source = await cache.resample(concat(ids.map((id) => judge.speech(id))), MEASURE_RATE, rate);
    const target = TARGETS[gender];
    const clone = await cache.resample(firstPart(judge.speech(target)), MEASURE_RATE, rate);
    const held = lastPart(judge.speech(target));
    const heldFormants = medianFormants(held, MEASURE_RATE, {
      voicedTimes: voicing(held, MEASURE_RATE).time,
    });
    const heldEnvelope = meanEnvelopeDb(held, MEASURE_RATE);
    const heldF0 = judge.f0(target, 'held');
    const voice = await engine.analyse(blocks(clone));
    console.log(
      `\n${gender} input: ${ids.length} utterances, ${(source.length / rate).toFixed(0)} s → speaker ${target} (${judge.speaker(target).gender})`,
    );
    console.log(
      'N      analyse  src F0   ratio Δ   k      formants Δ | out F0 err  formant err  env dist  judge top-1',
    );
    let whole: VoiceProfile | undefined;
    for (const n of [Number.POSITIVE_INFINITY, ...PREFIXES]) {
      const started = performance.now();
      const profile = await engine.analyse(blocks(source), {
        seconds: Number.isFinite(n) ? n : undefined,
      });
      const analyseSec = (performance.now() - started) / 1000;
      const out = await convert(source, voice, profile);
      whole ??= profile;
      const out16 = await cache.resample(out, rate, MEASURE_RATE);
      const f0 = voicing(out16, MEASURE_RATE).f0.sort((a, b) => a - b);
      const outF0 = f0[Math.floor(f0.length / 2)];
      const outFormants = medianFormants(out16, MEASURE_RATE, {
        voicedTimes: voicing(out16, MEASURE_RATE).time,
      });
      const p = whole;
      const fDelta = Math.max(
        ...[0, 1, 2].map((k) => Math.abs((profile.formants?.[k] ?? 0) / (p.formants?.[k] ?? 1) - 1)),
      );
      const cols = [
        (Number.isFinite(n) ? `${n} s` : 'whole').padEnd(6),
        `${analyseSec.toFixed(2)} s`.padStart(7),
        `${profile.f0Median?.toFixed(1)} Hz`.padStart(9),
        `${cents(pitchRatioFor(profile, voice), pitchRatioFor(p, voice)).toFixed(0)} ct`.padStart(7),
        pitchMapFor(profile, voice)[1].toFixed(3).padStart(6),
        `${(100 * fDelta).toFixed(1)} %`.padStart(10),
        `| ${(100 * (outF0 / heldF0 - 1)).toFixed(1)} %`.padStart(12),
        `${(100 * formantError(outFormants, heldFormants)).toFixed(1)} %`.padStart(12),
        `${envelopeDistanceDb(meanEnvelopeDb(out16, MEASURE_RATE), heldEnvelope).toFixed(2)} dB`.padStart(9),
        judge.identify(out16)[0].speaker.padStart(11),
      ];
      console.log(cols.join('  '));
    }
  }
} finally {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}
