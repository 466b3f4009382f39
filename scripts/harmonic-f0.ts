import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { blocks, concat, decodeFile, espeak } from '../test/helpers/audio-io.js';
import { JUDGE_PAIRS } from '../test/helpers/judge.js';
import { PcmCache, speakers } from '../test/helpers/librispeech.js';
import { SENTENCES } from '../test/helpers/parallel-mcd.js';
import { MEASURE_RATE, voicing } from '../test/helpers/voice-measures.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

/**
 * Where a synthesis's F0 leaves the source's at no shift (issue 10, the harmonic synthesis's F0 spread),
 * frame by frame: each source converted to its own voice (ratio 1) and the judge's YIN (16 kHz, 10 ms) run on
 * the source and the output (with --semitones S, the output's F0 over the source's times 2^(S/12)); the model's own period track (its analyse graph, 1024-sample frames every 256 at
 * 24 kHz) read at the same times. Per source, over frames YIN finds voiced in both:
 *  - out/src: the 10th, 50th and 90th percentiles of the output's F0 over the source's (YIN both);
 *  - trk/src: the same for the model's track over the source's YIN (the track's own error);
 *  - out/src where the track agrees with YIN within 2 % and where it does not (how much of the spread the
 *    track's misses explain), and the share of frames where it does not.
 * Sources: the judge's (real speech, --pairs) and, with --espeak, espeak voices saying the parallel sentences.
 *   node dist/scripts/harmonic-f0.js [--model DIR] [--pairs 0,2,4] [--espeak en-us+f3,en-us+m3] [--strength 0]
 *     [--semitones 0]
 */
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    pairs: { type: 'string', default: '0,2,4,8,10,12,15,26' },
    espeak: { type: 'string' },
    strength: { type: 'string', default: '0' },
    semitones: { type: 'string', default: '0' },
  },
});
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const strength = Number(values.strength);
const semitones = Number(values.semitones);
/** The ratio a shift by `semitones` asks (the output's F0 is compared with the source's times it). */
const asked = 2 ** (semitones / 12);

/** YIN's F0 per 10 ms frame (index by the frame's centre), 0 where unvoiced. */
function yin(pcm: Float32Array): Float64Array {
  const v = voicing(pcm, MEASURE_RATE);
  const out = new Float64Array(Math.ceil((pcm.length / MEASURE_RATE) * 100) + 1);
  v.time.forEach((t, i) => {
    const k = Math.round(t * 100);
    if (k < out.length) out[k] = v.f0[i];
  });
  return out;
}

const pctl = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const spread = (xs: number[]): string =>
  `${pctl(xs, 0.1).toFixed(3)} ${pctl(xs, 0.5).toFixed(3)} ${pctl(xs, 0.9).toFixed(3)}`;

const work = await mkdtemp(join(tmpdir(), 'vcfarm-harmonic-f0-'));
const engine = await VoiceConversionEngine.load(modelDir);
const analyse = await ort.InferenceSession.create(join(modelDir, 'analyse.onnx'));
const rate = engine.sampleRate;

/** The model's track at each 10 ms time (nearest analysis frame, centred at 256 j + 512 samples). */
async function modelTrack(pcm: Float32Array, frames: number): Promise<Float64Array> {
  const hop = 256;
  const n = 1024;
  const padded = new Float32Array(Math.ceil((pcm.length + n) / hop) * hop);
  padded.set(pcm);
  const out = await analyse.run({ audio: new ort.Tensor('float32', padded, [1, padded.length]) });
  const f0 = out.f0.data as Float32Array;
  const v = out.voicing.data as Float32Array;
  return Float64Array.from({ length: frames }, (_, k) => {
    const j = Math.round((k * rate) / 100 / hop - n / 2 / hop);
    return j >= 0 && j < f0.length && v[j] >= 0.6 ? f0[j] : 0;
  });
}

const all = { out: [] as number[], trk: [] as number[], agree: [] as number[], off: [] as number[] };
async function measure(name: string, src16: Float32Array, source: Float32Array): Promise<void> {
  const profile = await engine.analyse(blocks(source));
  const out: Float32Array[] = [];
  for await (const b of engine.convert(blocks(source), {
    voice: profile,
    sourceProfile: profile,
    strength,
    semitones,
  }))
    out.push(b);
  const cache = new PcmCache(work);
  const out16 = await cache.resample(concat(out), rate, MEASURE_RATE);
  const s = yin(src16);
  const o = yin(out16);
  const t = await modelTrack(source, s.length);
  const r = { out: [] as number[], trk: [] as number[], agree: [] as number[], off: [] as number[] };
  for (let i = 0; i < Math.min(s.length, o.length); i++) {
    if (!(s[i] > 0 && o[i] > 0)) continue;
    r.out.push(o[i] / s[i] / asked);
    if (t[i] > 0) {
      r.trk.push(t[i] / s[i]);
      (Math.abs(t[i] / s[i] - 1) <= 0.02 ? r.agree : r.off).push(o[i] / s[i] / asked);
    }
  }
  for (const k of ['out', 'trk', 'agree', 'off'] as const) all[k].push(...r[k]);
  console.log(
    [
      name.padEnd(16),
      String(r.out.length).padStart(5),
      ` out/src ${spread(r.out)}`,
      ` | trk/src ${spread(r.trk)}`,
      ` | out/src track within 2 % ${spread(r.agree)}`,
      ` | track off (${((r.off.length / Math.max(1, r.trk.length)) * 100).toFixed(0)} %) ${spread(r.off)}`,
    ].join(''),
  );
}

try {
  console.log('source           frames  p10 p50 p90 of each ratio (YIN both; the track at the same 10 ms)');
  const cache = new PcmCache(work);
  const files = new Map(speakers().map((s) => [s.id, s.file]));
  const picked = values.pairs ? values.pairs.split(',').map((i) => JUDGE_PAIRS[Number(i)]) : [];
  for (const id of new Set(picked.map((p) => p.source))) {
    const src16 = await cache.decode(files.get(id) ?? '', MEASURE_RATE);
    await measure(String(id), src16, await cache.resample(src16, MEASURE_RATE, rate));
  }
  for (const voice of values.espeak ? values.espeak.split(',') : []) {
    const wav = join(work, `${voice}.wav`);
    await espeak(voice, SENTENCES.join(' '), wav);
    await measure(
      voice,
      await decodeFile(wav, { sampleRate: MEASURE_RATE }),
      await decodeFile(wav, { sampleRate: rate }),
    );
  }
  console.log(
    `all${' '.repeat(13)}${String(all.out.length).padStart(5)} out/src ${spread(all.out)} | trk/src ${spread(all.trk)} | within 2 % ${spread(all.agree)} | off (${((all.off.length / Math.max(1, all.trk.length)) * 100).toFixed(0)} %) ${spread(all.off)}`,
  );
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
