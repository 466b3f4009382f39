import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { engineConverter } from '../test/helpers/engine-converter.js';
import {
  type Converter,
  JUDGE_PAIRS,
  Judge,
  type Pair,
  type Totals,
  totals,
  type Verdict,
} from '../test/helpers/judge.js';
import { PcmCache } from '../test/helpers/librispeech.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

/**
 * The independent judge of voice identity (issue 10) over a model folder: 30 conversions between
 * LibriSpeech speakers (voice cloned from the first 60 % of the target's utterance, output judged against
 * the last 40 %), a table per conversion and totals, then the same totals for a plain formant-preserving
 * pitch shift to the target's F0 (the baseline the model must beat).
 *   node dist/scripts/judge-voices.js [--model DIR] [--strength 0..2] [--pairs 0,3,8-11] [--no-baseline]
 *     [--source-seconds S]
 * --pairs judges only those conversions (indices into JUDGE_PAIRS, 0..29) for quick iteration, and
 * --no-baseline skips the pitch-shift baseline; the measures are the same, only the full 30 speak for the
 * model. --source-seconds takes the source's statistics from its first S seconds only (what a source that
 * short gives the model: a short source's statistics and the prior they are moved toward), and converts
 * and judges the whole source with them, so the measures are the same as without it.
 */
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    strength: { type: 'string', default: '1' },
    pairs: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    'source-seconds': { type: 'string' },
  },
});
/** "0,3,8-11" -> those indices of JUDGE_PAIRS, in order; all when absent. */
function pickPairs(spec: string | undefined): readonly Pair[] {
  if (spec === undefined) return JUDGE_PAIRS;
  const picked = spec.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map((v) => Number(v.trim()));
    if (
      !(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to >= from && to < JUDGE_PAIRS.length)
    )
      throw new Error(`--pairs: "${part}" is not an index or range within 0..${JUDGE_PAIRS.length - 1}`);
    return Array.from({ length: to - from + 1 }, (_, i) => JUDGE_PAIRS[from + i]);
  });
  return picked;
}
const pairs = pickPairs(values.pairs);
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const strength = Number(values.strength);
if (!(strength >= 0 && strength <= 2)) throw new Error('--strength must be a number from 0 to 2');
const sourceSeconds = values['source-seconds'] === undefined ? undefined : Number(values['source-seconds']);
if (sourceSeconds !== undefined && !(sourceSeconds > 0))
  throw new Error('--source-seconds must be a positive number');

const pct = (v: number) => `${(v * 100).toFixed(0)}%`.padStart(5);
const num = (v: number, d = 2) => v.toFixed(d).padStart(6);

function row(v: Verdict): string {
  const { source, target } = v.pair;
  const o = v.formants.output;
  return [
    `${source}->${target}`.padEnd(11),
    v.kind,
    (v.asTarget ? 'TARGET' : v.asSource ? 'SOURCE' : v.identifiedAs).padEnd(6),
    pct(v.formantGap),
    pct(v.formantError),
    `${o.f1.toFixed(0)}/${o.f2.toFixed(0)}/${o.f3.toFixed(0)}`.padStart(14),
    num(v.envelope.before),
    num(v.envelope.after),
    pct(v.envelope.cut),
    num(v.dynamics),
    `${v.f0.target.toFixed(0)}/${v.f0.output.toFixed(0)}`.padStart(8),
    pct(v.f0.error),
    num(v.peakDbfs),
    String(v.lengthDelta).padStart(5),
  ].join(' ');
}

const HEADER =
  'pair        kind judged  gap  Ferr  output F1/F2/F3  envSrc envOut  cut  dynam  F0 t/out  F0err  peak  dLen';

function summary(name: string, t: Totals): string {
  return [
    `${name}: identified as target ${t.asTarget}/${t.conversions}, as source ${t.asSource}/${t.conversions}`,
    `  formants within 8 % of the target's: ${t.formantsWithin8}/${t.conversions} (median worst-formant error ${pct(t.medianFormantError).trim()})`,
    `  envelope distance cut: median ${pct(t.medianEnvelopeCut).trim()}`,
    `  envelope-change correlation: min ${t.minDynamics.toFixed(3)}, median ${t.medianDynamics.toFixed(3)}`,
    `  F0: worst error ${pct(t.maxAbsF0Error).trim()}; peak: max ${t.maxPeakDbfs.toFixed(2)} dBFS; length mismatches ${t.lengthMismatches}; non-finite outputs ${t.nonFinite}`,
  ].join('\n');
}

async function run(judge: Judge, name: string, convert: Converter, sampleRate: number): Promise<Totals> {
  console.log(`\n${name}\n${HEADER}`);
  const verdicts: Verdict[] = [];
  for (const pair of pairs) {
    const v = await judge.judge(pair, convert, sampleRate);
    console.log(row(v));
    verdicts.push(v);
  }
  const t = totals(verdicts);
  console.log(summary(name, t));
  const clone = verdicts.map((v) => Math.abs(v.f0.output / judge.f0(v.pair.target, 'clone') - 1));
  console.log(
    `  F0 against the clone part (the audio the voice was made from): within 5 % ${clone.filter((e) => e <= 0.05).length}/${clone.length}, worst ${pct(Math.max(...clone)).trim()}`,
  );
  return t;
}

const cpu0 = process.cpuUsage();
const work = await mkdtemp(join(tmpdir(), 'vcfarm-judge-'));
const engine = await VoiceConversionEngine.load(modelDir);
try {
  const judge = await Judge.create(new PcmCache(work));
  const model = await run(
    judge,
    `model ${engine.manifest.name} (${modelDir}), strength ${strength}` +
      (sourceSeconds === undefined ? '' : `, source statistics from its first ${sourceSeconds} s`),
    engineConverter(engine, strength, sourceSeconds),
    engine.sampleRate,
  );
  if (!values['no-baseline']) {
    const shift = judge.pitchShift();
    const baseline = await run(
      judge,
      'baseline: rubberband pitch shift to the target F0, formants preserved',
      shift.convert,
      shift.sampleRate,
    );
    if (pairs.length === JUDGE_PAIRS.length) {
      console.log(
        `\nissue-10 speaker-ID bar: target >= 20/30 ${model.asTarget >= 20 ? 'met' : 'NOT met'}, ` +
          `source <= 3/30 ${model.asSource <= 3 ? 'met' : 'NOT met'}, ` +
          `>= 2x the pitch shift (${baseline.asTarget}) ${model.asTarget >= 2 * baseline.asTarget ? 'met' : 'NOT met'}`,
      );
    }
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (this process; ffmpeg children not counted)`,
  );
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
