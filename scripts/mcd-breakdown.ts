import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import {
  blocks,
  concat,
  decodeFile,
  espeak,
  filterPcm,
  resamplePcm,
  writeWav,
} from '../test/helpers/audio-io.js';
import { median } from '../test/helpers/audio-metrics.js';
import { CLONE_PASSAGE as CLONE, PARALLEL_PAIRS, SENTENCES } from '../test/helpers/parallel-mcd.js';
import { MEASURE_RATE, melCepstra, voicing } from '../test/helpers/voice-measures.js';
import {
  shrinkToPrior,
  sourcePriorOf,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../workers/engine/index.js';

/**
 * Where the parallel-data MCD sits (diagnosis, issue 10): for each pair, the squared mel-cepstral distance
 * along the DTW path (as test/helpers/voice-measures.ts aligns it) split by coefficient group and by band of
 * the warped frequency axis, and its bias part (the squared mean difference along the path, what a fixed
 * correction could remove) against the rest, for output vs target and source vs target.
 * --source-passage all|formants|stats|mean|cov|target (an oracle): the source's profile (or only its formants, or only
 * its envelope statistics) from the source voice reading the clone passage, not from the converted sentence; `target`:
 * the target's own profile with only the passage's F0 statistics, so the map, warp and EQ ask for no move and only the
 * pitch shift acts (with --self-pitch: the synthesis alone).
 * --self-pitch P: the source is the target voice itself at espeak-ng pitch P (0-99; default 50), so only the
 * F0 differs: what the synthesis loses to the pitch shift alone.
 *   node dist/scripts/mcd-breakdown.js [--model DIR] [--pairs 2,3] [--strength 1] [--source-passage WHAT]
 *     [--self-pitch P] [--rubberband] [--cov-from-target K] [--save DIR]
 * --rubberband (a reference synthesis): the source shifted by ffmpeg's rubberband (formants preserved,
 * pitchq=quality) by the ratio of the target's passage median F0 (YIN) to the source's (its passage with
 * --source-passage, else the sentence) instead of the model: what an independent pitch shifter loses.
 * --save DIR: the first sentence's source, target and output (16 kHz wav) per pair, to look at.
 * --cov-from-target K (an experiment): a short source's covariance moved toward the target voice's own
 * (worth K frames, faded as the model's prior) instead of the prior's; its mean as the model's prior.
 */
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    pairs: { type: 'string', default: '0,1,2,3,4,5' },
    strength: { type: 'string', default: '1' },
    'source-passage': { type: 'string' },
    'self-pitch': { type: 'string' },
    'cov-from-target': { type: 'string' },
    save: { type: 'string' },
    rubberband: { type: 'boolean', default: false },
  },
});
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const strength = Number(values.strength);
const selfPitch = values['self-pitch'];
const pairs = values.pairs.split(',').map((i) => {
  const p = PARALLEL_PAIRS[Number(i)];
  return selfPitch === undefined ? p : { source: `${p.target}@${selfPitch}`, target: p.target };
});
const K = (10 / Math.LN10) ** 2 * 2;
const GROUPS: [string, number, number][] = [
  ['c1-2', 1, 2],
  ['c3-6', 3, 6],
  ['c7-12', 7, 12],
  ['c13-24', 13, 24],
];
// Band edges (Hz) on the linear axis; the log spectrum is rebuilt from c1..c24 on the warped grid.
const BANDS = [0, 500, 1000, 2000, 3000, 4000, 5500, 8000];
const ALPHA = 0.42;

function warp(omega: number, alpha: number): number {
  return omega + 2 * Math.atan((alpha * Math.sin(omega)) / (1 - alpha * Math.cos(omega)));
}

/** DTW path (symmetric, as the measure's) between frame lists. */
function dtwPath(a: Float64Array[], b: Float64Array[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  const d = (i: number, j: number) => Math.sqrt(a[i].reduce((s, v, k) => s + (v - b[j][k]) ** 2, 0));
  const cost = new Float64Array(n * m);
  const from = new Int8Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let best = 0;
      let dir = -1;
      if (i > 0 || j > 0) {
        best = Number.POSITIVE_INFINITY;
        if (i > 0 && j > 0 && cost[(i - 1) * m + j - 1] < best) [best, dir] = [cost[(i - 1) * m + j - 1], 0];
        if (i > 0 && cost[(i - 1) * m + j] < best) [best, dir] = [cost[(i - 1) * m + j], 1];
        if (j > 0 && cost[i * m + j - 1] < best) [best, dir] = [cost[i * m + j - 1], 2];
      }
      cost[i * m + j] = best + d(i, j);
      from[i * m + j] = dir;
    }
  const path: [number, number][] = [];
  let i = n - 1;
  let j = m - 1;
  for (;;) {
    path.push([i, j]);
    const dir = from[i * m + j];
    if (dir < 0) break;
    if (dir === 0) [i, j] = [i - 1, j - 1];
    else if (dir === 1) i--;
    else j--;
  }
  return path.reverse();
}

interface Breakdown {
  mcd: number;
  groups: number[];
  bands: number[];
  bias: number;
  total: number;
}

// Warped grid points and the band each falls in (by its linear frequency).
const GRID = 256;
const gridBand = Array.from({ length: GRID + 1 }, (_, j) => {
  const hz = (warp((Math.PI * j) / GRID, -ALPHA) / Math.PI) * (MEASURE_RATE / 2);
  return Math.max(
    0,
    BANDS.findIndex((e, k) => hz >= e && hz < (BANDS[k + 1] ?? Number.POSITIVE_INFINITY)),
  );
});

function breakdown(x: Float64Array[], t: Float64Array[]): Breakdown {
  const path = dtwPath(x, t);
  const q = x[0].length;
  const groups = GROUPS.map(() => 0);
  const bands = BANDS.slice(1).map(() => 0);
  const mean = new Float64Array(q);
  let mcd = 0;
  let total = 0;
  for (const [i, j] of path) {
    const d = x[i].map((v, k) => v - t[j][k]);
    const sq = d.reduce((s, v) => s + v * v, 0);
    mcd += Math.sqrt(K * sq);
    total += K * sq;
    d.forEach((v, k) => {
      mean[k] += v / path.length;
    });
    for (const [g, [, lo, hi]] of GROUPS.entries())
      for (let k = lo; k <= hi; k++) groups[g] += (K * d[k - 1] ** 2) / path.length;
    // Log-amplitude difference (natural log, x 20/ln10 dB) on the warped grid, its mean square per band.
    for (let g = 0; g <= GRID; g++) {
      let e = 0;
      for (let k = 0; k < q; k++) e += 2 * d[k] * Math.cos((Math.PI * (k + 1) * g) / GRID);
      bands[gridBand[g]] += ((e * 20) / Math.LN10) ** 2 / path.length;
    }
  }
  const perBand = bands.map((v, k) => v / gridBand.filter((b) => b === k).length);
  return {
    mcd: mcd / path.length,
    groups,
    bands: perBand,
    bias: K * mean.reduce((s, v) => s + v * v, 0),
    total: total / path.length,
  };
}

async function say(dir: string, voice: string, text: string, name: string, rate: number) {
  const wav = join(dir, `${voice.replace(/[^a-z0-9]/gi, '_')}-${name}.wav`);
  const [v, pitch] = voice.split('@');
  if (pitch === undefined) await espeak(v, text, wav);
  else await promisify(execFile)('espeak-ng', ['-v', v, '-p', pitch, '-w', wav, text]);
  return decodeFile(wav, { sampleRate: rate });
}

const fmt = (v: number[]) => v.map((x) => x.toFixed(2).padStart(6)).join(' ');
/** A profile without its formant inventory: its median formants reach the warp unmatched (formant-match.ts). */
function withoutInventory(p: VoiceProfile): VoiceProfile {
  const { formantInventory: _, ...rest } = p;
  return rest;
}
async function convertWith(
  source: Float32Array,
  voice: VoiceProfile,
  sourceProfile: VoiceProfile,
  rate: number,
): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const b of engine.convert(blocks(source), { voice, sourceProfile, strength })) parts.push(b);
  return resamplePcm(concat(parts), rate, MEASURE_RATE);
}
/** The reference synthesis (--rubberband): the source shifted to the target passage's median F0 by YIN. */
async function rubberband(
  source: Float32Array,
  targetPassage: Float32Array,
  sourceF0From: Float32Array,
  rate: number,
): Promise<Float32Array> {
  const median0 = async (pcm: Float32Array) =>
    median(voicing(await resamplePcm(pcm, rate, MEASURE_RATE), MEASURE_RATE).f0);
  const ratio = (await median0(targetPassage)) / (await median0(sourceF0From));
  const filter = `rubberband=pitch=${ratio.toFixed(6)}:formant=preserved:pitchq=quality`;
  return resamplePcm(await filterPcm(source, { sampleRate: rate, filter }), rate, MEASURE_RATE);
}
const work = await mkdtemp(join(tmpdir(), 'vcfarm-mcdb-'));
const engine = await VoiceConversionEngine.load(modelDir);
try {
  console.log(
    `groups ${GROUPS.map((g) => g[0]).join(' ')} (mean K d^2); bands (Hz) ${BANDS.join('/')} (rms dB^2 of the c1..c24 log-amplitude difference)`,
  );
  for (const pair of pairs) {
    const rate = engine.sampleRate;
    const clone = await say(work, pair.target, CLONE, 'passage', rate);
    const voice = await engine.analyse(blocks(clone));
    const passagePcm = values['source-passage']
      ? await say(work, pair.source, CLONE, 'passage', rate)
      : undefined;
    const passage = passagePcm ? await engine.analyse(blocks(passagePcm)) : undefined;
    const acc = { src: [] as Breakdown[], out: [] as Breakdown[] };
    for (const [i, text] of SENTENCES.entries()) {
      const target = melCepstra(await say(work, pair.target, text, `s${i}`, MEASURE_RATE), MEASURE_RATE);
      const source = await say(work, pair.source, text, `s${i}`, rate);
      const own = await engine.analyse(blocks(source));
      const oracle = values['source-passage'];
      const sourceProfile =
        passage === undefined
          ? own
          : oracle === 'formants'
            ? // The passage's medians as they are: without the sentence's inventory no match moves them.
              { ...withoutInventory(own), formants: passage.formants }
            : oracle === 'stats'
              ? { ...passage, formants: own.formants }
              : oracle === 'mean'
                ? { ...own, envelopeMean: passage.envelopeMean, envelopeFrames: passage.envelopeFrames }
                : oracle === 'cov'
                  ? {
                      ...own,
                      envelopeRoot: passage.envelopeRoot,
                      envelopeInverseRoot: passage.envelopeInverseRoot,
                      envelopeFrames: passage.envelopeFrames,
                    }
                  : oracle === 'target'
                    ? // The target's own profile with only the source's F0: every envelope move asked is none.
                      { ...voice, f0Median: passage.f0Median, f0P10: passage.f0P10, f0P90: passage.f0P90 }
                    : passage;
      const covFrames = values['cov-from-target'];
      const prior = engine.manifest.analysis.sourcePrior;
      const converted =
        covFrames === undefined || prior === undefined
          ? sourceProfile
          : {
              ...shrinkToPrior(sourceProfile, {
                ...prior,
                frames: Number(covFrames),
                meanFrames: prior.meanFrames ?? prior.frames,
                covariance: sourcePriorOf([voice], 1).covariance,
              }),
              // Shrunk here: the engine's own prior must not apply again.
              durationSeconds: 1e6,
            };
      const outPcm = values.rubberband
        ? await rubberband(source, clone, passagePcm ?? source, rate)
        : await convertWith(source, voice, converted, rate);
      if (values.save !== undefined && i === 0) {
        const tag = `${pair.source}-${pair.target}`.replace(/[^a-z0-9@-]/gi, '_');
        await writeWav(join(values.save, `${tag}-out.wav`), outPcm, MEASURE_RATE);
        await writeWav(
          join(values.save, `${tag}-src.wav`),
          await say(work, pair.source, text, `s${i}`, MEASURE_RATE),
          MEASURE_RATE,
        );
        await writeWav(
          join(values.save, `${tag}-tgt.wav`),
          await say(work, pair.target, text, `s${i}`, MEASURE_RATE),
          MEASURE_RATE,
        );
      }
      const out = melCepstra(outPcm, MEASURE_RATE);
      const src = melCepstra(await say(work, pair.source, text, `s${i}`, MEASURE_RATE), MEASURE_RATE);
      acc.src.push(breakdown(src, target));
      acc.out.push(breakdown(out, target));
    }
    const cut = (s: Breakdown[], o: Breakdown[]) =>
      1 - o.reduce((a, b) => a + b.mcd, 0) / s.reduce((a, b) => a + b.mcd, 0);
    console.log(`\n${pair.source} -> ${pair.target}: cut ${(cut(acc.src, acc.out) * 100).toFixed(1)} %`);
    for (const name of ['src', 'out'] as const) {
      const list = acc[name];
      const avg = (f: (b: Breakdown) => number) => list.reduce((s, b) => s + f(b), 0) / list.length;
      const avgv = (f: (b: Breakdown) => number[]) => f(list[0]).map((_, k) => avg((b) => f(b)[k]));
      console.log(
        `${name} MCD ${avg((b) => b.mcd).toFixed(2)} | groups ${fmt(avgv((b) => b.groups))} | bias ${avg((b) => b.bias).toFixed(2)} of ${avg((b) => b.total).toFixed(2)} | bands ${fmt(avgv((b) => b.bands))}`,
      );
    }
  }
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
