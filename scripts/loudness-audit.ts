import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { blocks, concat } from '../test/helpers/audio-io.js';
import { JUDGE_PAIRS, type Pair } from '../test/helpers/judge.js';
import { firstPart, PcmCache, speakers } from '../test/helpers/librispeech.js';
import {
  LoudnessMeter,
  parseVoiceProfile,
  pitchRatioFor,
  SOURCE_ANALYSIS_SECONDS,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../workers/engine/index.js';

/**
 * Output level against input level (integrated loudness, BS.1770, workers/engine/loudness.ts) on the judge's
 * conversions (the voice cloned from the target's first 60 %, the whole source converted, as judge-voices.js)
 * and on the preset previews' source (the first LibriSpeech utterance, 4 s from 0.5 s, toward every preset).
 *   node dist/scripts/loudness-audit.js [--model DIR] [--pairs 0,3,8-11] [--previews] [--strength S]
 *     [--shift-only]
 * --shift-only converts at strength 0 with the conversion's own pitch ratio as semitones: the down (or up)
 * shift alone, no warp, no map, no level stage. Columns: input and output LUFS, output minus input, output
 * peak dBFS.
 */
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    pairs: { type: 'string' },
    previews: { type: 'boolean', default: false },
    strength: { type: 'string', default: '1' },
    'shift-only': { type: 'boolean', default: false },
  },
});
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const strength = Number(values.strength);
const shiftOnly = values['shift-only'];

function pickPairs(spec: string | undefined): readonly Pair[] {
  if (spec === undefined) return JUDGE_PAIRS;
  return spec.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return JUDGE_PAIRS.slice(from, to + 1);
  });
}

function lufs(pcm: Float32Array, rate: number): number {
  const m = new LoudnessMeter(rate, pcm.length / rate);
  m.add(pcm);
  return m.loudness();
}

function peakDb(pcm: Float32Array): number {
  let p = 0;
  for (const v of pcm) p = Math.max(p, Math.abs(v));
  return 20 * Math.log10(p);
}

const engine = await VoiceConversionEngine.load(modelDir);
const rate = engine.sampleRate;
const work = await mkdtemp(join(tmpdir(), 'vcfarm-loudness-'));
const cache = new PcmCache(work);
const list = speakers();
const fileOf = (id: string) => {
  const s = list.find((x) => x.id === id);
  if (!s) throw new Error(`speaker ${id} not found`);
  return s.file;
};

async function convert(source: Float32Array, voice: VoiceProfile): Promise<Float32Array> {
  const sourceProfile = await engine.analyse(blocks(source), { seconds: SOURCE_ANALYSIS_SECONDS });
  const semitones = shiftOnly ? 12 * Math.log2(pitchRatioFor(sourceProfile, voice, 0, 1)) : 0;
  const out: Float32Array[] = [];
  const options = { voice, sourceProfile, strength: shiftOnly ? 0 : strength, semitones };
  for await (const b of engine.convert(blocks(source), options)) out.push(b);
  return concat(out);
}

const rows: number[] = [];
function report(label: string, input: Float32Array, output: Float32Array): void {
  const i = lufs(input, rate);
  const o = lufs(output, engine.outputSampleRate);
  rows.push(o - i);
  console.log(
    `${label.padEnd(22)} ${i.toFixed(1).padStart(6)} ${o.toFixed(1).padStart(6)} ${(o - i).toFixed(1).padStart(6)} ${peakDb(output).toFixed(1).padStart(6)}`,
  );
}

try {
  console.log(
    `model ${engine.manifest.name} (${modelDir}), strength ${shiftOnly ? '0, shift only' : strength}`,
  );
  console.log(`${'conversion'.padEnd(22)}  in LU out LU  delta   peak`);
  if (values.previews) {
    const first = list[0];
    const whole = await cache.decode(first.file, rate);
    const source = whole.slice(Math.round(0.5 * rate), Math.round(4.5 * rate));
    const dir = join(modelDir, 'voices');
    for (const f of (await readdir(dir)).filter((x) => x.endsWith('.json')).sort()) {
      const voice = parseVoiceProfile(JSON.parse(await readFile(join(dir, f), 'utf8')));
      report(`${first.id}->${f.replace(/\.json$/, '')}`, source, await convert(source, voice));
    }
  } else {
    for (const pair of pickPairs(values.pairs)) {
      // As the judge: decoded at 16 kHz, then resampled to the engine's rate.
      const at16 = async (id: string) => cache.resample(await cache.decode(fileOf(id), 16000), 16000, rate);
      const source = await at16(pair.source);
      const voice = await engine.analyse(blocks(firstPart(await at16(pair.target))));
      report(`${pair.source}->${pair.target}`, source, await convert(source, voice));
    }
  }
  const sorted = [...rows].sort((a, b) => a - b);
  console.log(
    `output - input: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} LU, range ${sorted[0].toFixed(1)}..${sorted.at(-1)?.toFixed(1)} LU`,
  );
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
