import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { envelopeFidelity } from '../test/helpers/envelope-fidelity.js';
import { JUDGE_PAIRS, Judge } from '../test/helpers/judge.js';
import { PcmCache } from '../test/helpers/librispeech.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

/**
 * How much of the envelope the mapping asks for reaches the synthesis stage's output, per judge pair and
 * over all loud voiced frames (see test/helpers/envelope-fidelity.ts):
 *   node dist/scripts/envelope-fidelity.js [--synthesis whiten|resample] [--no-fit] [--pairs 0,3,8-11]
 *     [--map-strength 0..1] [--no-pitch] [--shift-tuning JSON] [--map-tuning JSON] [--fit-tuning JSON]
 * --map-strength 0 asks every frame to keep its own envelope while the pitch moves; --no-pitch keeps the
 * pitch too (what analysis and resynthesis alone lose).
 */
const { values } = parseArgs({
  options: {
    synthesis: { type: 'string', default: 'whiten' },
    pairs: { type: 'string', default: '0-29' },
    'map-strength': { type: 'string', default: '1' },
    'no-pitch': { type: 'boolean', default: false },
    'no-fit': { type: 'boolean', default: false },
    'shift-tuning': { type: 'string', default: '{}' },
    'map-tuning': { type: 'string', default: '{}' },
    'fit-tuning': { type: 'string', default: '{}' },
  },
});
const synthesis = values.synthesis;
if (synthesis !== 'whiten' && synthesis !== 'resample') throw new Error('--synthesis: whiten or resample');
const pairs = values.pairs.split(',').flatMap((part) => {
  const [from, to = from] = part.split('-').map(Number);
  return Array.from({ length: to - from + 1 }, (_, i) => JUDGE_PAIRS[from + i]);
});

const work = await mkdtemp(join(tmpdir(), 'vcfarm-fidelity-'));
// Profiles come from the shipped model's analysis graph (the probe's shift graph has an extra output).
const engine = await VoiceConversionEngine.load(new URL('../../models/default/', import.meta.url).pathname);
try {
  const judge = await Judge.create(new PcmCache(work));
  const r = await envelopeFidelity(judge, engine, pairs, {
    synthesis,
    fit: values['no-fit'] ? null : JSON.parse(values['fit-tuning']),
    mapStrength: Number(values['map-strength']),
    noPitch: values['no-pitch'],
    shiftTuning: JSON.parse(values['shift-tuning']),
    mapTuning: JSON.parse(values['map-tuning']),
  });
  const n = (v: number, w: number) => v.toFixed(3).padStart(w);
  console.log(`synthesis ${synthesis}${values['no-fit'] ? '' : ' + fit'}: medians over loud voiced frames`);
  console.log('pair          frames   asked  missed   moved  share  mean miss');
  for (const p of r.pairs) {
    console.log(
      `${`${p.pair.source}->${p.pair.target}`.padEnd(13)} ${String(p.frames).padStart(6)} ${n(p.asked, 7)} ${n(p.missed, 7)} ${n(p.moved, 7)} ${p.share.toFixed(2).padStart(6)} ${n(p.meanMiss, 10)}`,
    );
  }
  const a = r.all;
  console.log(
    `all ${a.frames} frames: asked ${a.asked.toFixed(3)}, missed ${a.missed.toFixed(3)}, moved ${a.moved.toFixed(3)}: the output got ${(100 * a.share).toFixed(0)} % of the way asked`,
  );
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
