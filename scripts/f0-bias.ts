import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { blocks, concat } from '../test/helpers/audio-io.js';
import { median } from '../test/helpers/audio-metrics.js';
import { JUDGE_PAIRS } from '../test/helpers/judge.js';
import { firstPart, PcmCache, speakers } from '../test/helpers/librispeech.js';
import { MEASURE_RATE, voicing } from '../test/helpers/voice-measures.js';
import { VoiceConversionEngine, type VoiceProfile } from '../workers/engine/index.js';
import { pitchMapFor, pitchRatioFor } from '../workers/engine/voice-profile.js';
import { aperiodicity, bandBalance, lowPass } from './lib/periodicity.js';

/**
 * Where the output's F0 leaves what the model asks (the 2-5 % upward bias of the output's median), frame by
 * frame: the judge's YIN (16 kHz, 10 ms frames) on the source and on the output (same length, so frames
 * align), the F0 asked of each source frame (its F0 x the profiles' ratio x the spread map's factor), and
 *  - the medians: asked over the source's voiced frames, shown over the output's;
 *  - frames voiced in both: the median of shown / asked, per quintile of the source's F0;
 *  - frames voiced in the source and not in the output (lost) and the reverse (gained), with their F0, the
 *    share lost per quintile of the source's F0, and how many of the lost fall below YIN's 30 dB level gate
 *    (the rest YIN finds aperiodic) with their median level (source/output, dB under each one's loudest);
 *  - the share of frames above that gate YIN calls voiced in the source, the target (whole) and the output;
 *  - with --periodicity, a second line per pair: over the source's voiced frames, per quintile of its F0, the
 *    median YIN aperiodicity (min d', scripts/lib/periodicity.ts; the judge calls a frame voiced below 0.2) of
 *    source -> output, the same on both low-passed at 1 kHz and high-passed there, and the power above 1 kHz against below (dB);
 *  - at the end, the voiced frames lost over all pairs: the lost frames' sum over the source's voiced frames'
 *    sum, and the median of the pairs' shares.
 *   node dist/scripts/f0-bias.js [--model DIR] [--pairs 0,3,8-11] [--strength 1] [--semitones 0] [--one-class]
 *     [--periodicity]
 */
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    pairs: { type: 'string' },
    strength: { type: 'string' },
    semitones: { type: 'string' },
    'one-class': { type: 'boolean' },
    periodicity: { type: 'boolean' },
  },
});
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const strength = Number(values.strength ?? 1);
const semitones = Number(values.semitones ?? 0);
const picked = values.pairs
  ? values.pairs.split(',').flatMap((part) => {
      const [from, to = from] = part.split('-').map(Number);
      return Array.from({ length: to - from + 1 }, (_, i) => JUDGE_PAIRS[from + i]);
    })
  : JUDGE_PAIRS;

/** YIN's F0 per 10 ms frame, 0 where unvoiced. */
function track(pcm: Float32Array): Float64Array {
  const v = voicing(pcm, MEASURE_RATE);
  const hop = Math.round(MEASURE_RATE / 100);
  const w = Math.ceil(MEASURE_RATE / 60);
  const out = new Float64Array(Math.ceil(pcm.length / hop));
  v.time.forEach((t, i) => {
    out[Math.round((t * MEASURE_RATE - w) / hop)] = v.f0[i];
  });
  return out;
}
/** --one-class: the unvoiced class's envelope statistics replaced by the voiced class's (a diagnostic). */
function oneClass(p: VoiceProfile): VoiceProfile {
  if (!values['one-class']) return p;
  const twice = (a: number[] | undefined) =>
    a ? [...a.slice(0, a.length / 2), ...a.slice(0, a.length / 2)] : a;
  return {
    ...p,
    envelopeMean: twice(p.envelopeMean),
    envelopeRoot: twice(p.envelopeRoot),
    envelopeInverseRoot: twice(p.envelopeInverseRoot),
    envelopeFrames: twice(p.envelopeFrames),
  };
}
/** Each 10 ms YIN frame's level (dB) against the loudest frame's, as YIN's 30 dB gate sees it. */
function levels(pcm: Float32Array): Float64Array {
  const hop = Math.round(MEASURE_RATE / 100);
  const tauMax = Math.ceil(MEASURE_RATE / 60);
  const span = 2 * tauMax;
  const out = new Float64Array(Math.ceil(pcm.length / hop)).fill(Number.NEGATIVE_INFINITY);
  for (let f = 0; f * hop + span + 1 < pcm.length; f++) {
    let sum = 0;
    for (let j = 0; j < span; j++) sum += pcm[f * hop + j] ** 2;
    out[f] = 10 * Math.log10(sum / span + 1e-20);
  }
  const top = Math.max(...out);
  return out.map((v) => v - top);
}
const pct = (v: number) => `${(v * 100).toFixed(1)}%`.padStart(7);
/** Frame indices split into quintiles of the source's F0, low to high. */
const quintiles = (sorted: number[]): number[][] =>
  [0, 1, 2, 3, 4].map((j) =>
    sorted.slice(Math.floor((j * sorted.length) / 5), Math.floor(((j + 1) * sorted.length) / 5)),
  );
/** --periodicity: source -> output per quintile of the source's voiced frames (their indices, by F0). */
function periodicityLine(
  src16: Float32Array,
  out16: Float32Array,
  voicedSrc: number[],
  tgt16: Float32Array,
  tgtVoiced: number[],
): string {
  const by = (a: Float64Array, b: Float64Array, digits: number) =>
    quintiles(voicedSrc)
      .map((part) => {
        const m = (v: Float64Array) => median(part.map((i) => v[i]).filter(Number.isFinite));
        return `${m(a).toFixed(digits)}>${m(b).toFixed(digits)}`;
      })
      .join(' ');
  const cut = 1000;
  const highPass = (x: Float32Array, hz: number) => {
    const low = lowPass(x, MEASURE_RATE, hz);
    return x.map((v, i) => v - low[i]);
  };
  return [
    '            aperiodicity src>out by src-F0 quintile',
    by(aperiodicity(src16, MEASURE_RATE), aperiodicity(out16, MEASURE_RATE), 2),
    ' | below 1 kHz',
    by(
      aperiodicity(lowPass(src16, MEASURE_RATE, cut), MEASURE_RATE),
      aperiodicity(lowPass(out16, MEASURE_RATE, cut), MEASURE_RATE),
      2,
    ),
    ' | above 1 kHz',
    by(aperiodicity(highPass(src16, cut), MEASURE_RATE), aperiodicity(highPass(out16, cut), MEASURE_RATE), 2),
    ' | dB above/below 1 kHz',
    by(bandBalance(src16, MEASURE_RATE, cut), bandBalance(out16, MEASURE_RATE, cut), 0),
    ' | target (voiced frames) dB above/below 1 kHz, aperiodicity',
    (() => {
      const m = (v: Float64Array) => median(tgtVoiced.map((i) => v[i]).filter(Number.isFinite));
      return `${m(bandBalance(tgt16, MEASURE_RATE, cut)).toFixed(0)} ${m(aperiodicity(tgt16, MEASURE_RATE)).toFixed(2)}`;
    })(),
  ].join(' ');
}

const work = await mkdtemp(join(tmpdir(), 'vcfarm-f0-bias-'));
const engine = await VoiceConversionEngine.load(modelDir);
try {
  const cache = new PcmCache(work);
  const files = new Map(speakers().map((s) => [s.id, s.file]));
  const rate = engine.sampleRate;
  const lostShares: number[] = [];
  let lostSum = 0;
  let voicedSum = 0;
  console.log(
    'pair        asked  shown  bias   | both: n  shown/asked by src-F0 quintile (low..high)        | lost n  med src F0  | gained n  med out F0',
  );
  for (const pair of picked) {
    const src16 = await cache.decode(files.get(pair.source) ?? '', MEASURE_RATE);
    const tgt16 = await cache.decode(files.get(pair.target) ?? '', MEASURE_RATE);
    const source = await cache.resample(src16, MEASURE_RATE, rate);
    const clone = await cache.resample(firstPart(tgt16), MEASURE_RATE, rate);
    const voice = oneClass(await engine.analyse(blocks(clone)));
    const sourceProfile = oneClass(await engine.analyse(blocks(source)));
    const out: Float32Array[] = [];
    for await (const b of engine.convert(blocks(source), { voice, sourceProfile, strength, semitones }))
      out.push(b);
    const out16 = await cache.resample(concat(out), rate, MEASURE_RATE);
    const ratio = pitchRatioFor(sourceProfile, voice, semitones, strength);
    const [med, k] = pitchMapFor(sourceProfile, voice, strength);
    const s = track(src16);
    const o = track(out16);
    const asked = (f: number) => f * ratio * Math.min(2, Math.max(0.5, (f / med) ** (k - 1)));
    const askedAll: number[] = [];
    const shownAll: number[] = [];
    const both: { src: number; r: number }[] = [];
    const lost: number[] = [];
    const sl = levels(src16);
    const ol = levels(out16);
    // Share of the frames above YIN's gate that YIN calls voiced: source, target (whole utterance), output.
    const share = (f0: Float64Array, level: Float64Array): string => {
      const above = level.filter((v) => v > -30).length;
      return `${((f0.filter((v) => v > 0).length / Math.max(1, above)) * 100).toFixed(0)}%`;
    };
    const voicedShares = [share(s, sl), share(track(tgt16), levels(tgt16)), share(o, ol)].join('/');
    const lostLevel: number[] = [];
    const lostSrcLevel: number[] = [];
    const gained: number[] = [];
    for (let i = 0; i < Math.min(s.length, o.length); i++) {
      if (s[i] > 0) askedAll.push(asked(s[i]));
      if (o[i] > 0) shownAll.push(o[i]);
      if (s[i] > 0 && o[i] > 0) both.push({ src: s[i], r: o[i] / asked(s[i]) });
      else if (s[i] > 0) {
        lost.push(s[i]);
        lostLevel.push(ol[i]);
        lostSrcLevel.push(sl[i]);
      } else if (o[i] > 0) gained.push(o[i]);
    }
    both.sort((a, b) => a.src - b.src);
    const q = [0, 1, 2, 3, 4].map((j) =>
      median(
        both
          .slice(Math.floor((j * both.length) / 5), Math.floor(((j + 1) * both.length) / 5))
          .map((x) => x.r),
      ),
    );
    // Share of the source's voiced frames the output loses, per quintile of the source's F0.
    const voicedSrc = [...s.keys()].filter((i) => s[i] > 0 && i < o.length).sort((x, y) => s[x] - s[y]);
    const lostShare = quintiles(voicedSrc).map(
      (part) => part.filter((i) => !(o[i] > 0)).length / Math.max(1, part.length),
    );
    lostSum += lost.length;
    voicedSum += voicedSrc.length;
    lostShares.push(lost.length / Math.max(1, voicedSrc.length));
    const a = median(askedAll);
    const sh = median(shownAll);
    console.log(
      [
        `${pair.source}->${pair.target}`.padEnd(11),
        a.toFixed(1).padStart(6),
        sh.toFixed(1).padStart(6),
        pct(sh / a - 1),
        ' |',
        String(both.length).padStart(5),
        q.map((x) => pct(x - 1)).join(''),
        ' |',
        String(lost.length).padStart(5),
        `of ${voicedSrc.length}`,
        (lost.length ? median(lost) : 0).toFixed(0).padStart(6),
        ' |',
        String(gained.length).padStart(5),
        (gained.length ? median(gained) : 0).toFixed(0).padStart(6),
        ' | voiced src/tgt/out',
        voicedShares,
        ' | lost share by src-F0 quintile',
        lostShare.map((x) => `${(x * 100).toFixed(0)}%`.padStart(4)).join(''),
        ' | lost: below gate',
        String(lostLevel.filter((v) => v <= -30).length).padStart(4),
        ' level src/out',
        lost.length ? `${median(lostSrcLevel).toFixed(1)}/${median(lostLevel).toFixed(1)} dB` : '-',
      ].join(' '),
    );
    if (values.periodicity) {
      const t = track(tgt16);
      const tgtVoiced = [...t.keys()].filter((i) => t[i] > 0);
      console.log(periodicityLine(src16, out16, voicedSrc, tgt16, tgtVoiced));
    }
  }
  console.log(
    `voiced frames lost: ${lostSum} of ${voicedSum} (${pct(lostSum / Math.max(1, voicedSum)).trim()}), median per pair ${pct(median(lostShares)).trim()}`,
  );
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
