import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VoiceConversionEngine } from '../../workers/engine/index.js';
import { envelopeFidelity } from '../helpers/envelope-fidelity.js';
import { JUDGE_PAIRS, Judge } from '../helpers/judge.js';
import { PcmCache } from '../helpers/librispeech.js';

// The synthesis stage puts the envelope each frame is asked for on the output (issue 10): requested vs
// output band cepstra per frame, on real speech (LibriSpeech, a male->female and a female->male judge
// pair), the default shift graph built with its probe output. Measured on judge pairs 0, 1, 8, 9
// (scripts/envelope-fidelity.js, 2026-11-30, the whitening-colouring map): the resampling shifter with no
// fit (the model before) got 35 % of the way asked, the whitening shifter 37 %, the resampling shifter with
// the closed-loop fit 57 %, the whitening shifter with it 65 % (on pairs 0 and 8: 54/26 % -> 72/66 %).

const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
const PAIRS = [JUDGE_PAIRS[0], JUDGE_PAIRS[8]];
let engine: VoiceConversionEngine;
let judge: Judge;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-fidelity-test-'));
  engine = await VoiceConversionEngine.load(MODEL_DIR);
  judge = await Judge.create(new PcmCache(work));
});
after(async () => {
  await engine?.close();
  await rm(work, { recursive: true, force: true });
});

test('the shipped synthesis gets more of the requested envelope onto the output than the resampling shifter', async () => {
  const before = await envelopeFidelity(judge, engine, PAIRS, { synthesis: 'resample', fit: null });
  const now = await envelopeFidelity(judge, engine, PAIRS, { synthesis: 'whiten', fit: {} });
  const detail = `share ${now.all.share.toFixed(3)} (resampling ${before.all.share.toFixed(3)})`;
  // The mapping asks the same of both (the request does not depend on the synthesis).
  assert.ok(Math.abs(now.all.asked - before.all.asked) < 1e-3, detail);
  assert.ok(now.all.share >= 0.5, detail);
  assert.ok(now.all.share >= before.all.share + 0.07, detail);
  for (const p of now.pairs)
    assert.ok(p.frames > 200 && p.share >= 0.45, `${p.pair.source}->${p.pair.target}: ${p.share}`);
});

test('asked for no envelope change at the same pitch, the output keeps the input envelope', async () => {
  const r = await envelopeFidelity(judge, engine, PAIRS, {
    synthesis: 'whiten',
    fit: {},
    mapStrength: 0,
    noPitch: true,
  });
  assert.ok(r.all.asked < 1e-4, `asked ${r.all.asked}`);
  // Measured 0.18 (the period comb deepens the valleys between harmonics, which the cepstra of the raw log
  // power see); the default mapping asks ~0.9 on these pairs.
  assert.ok(r.all.missed < 0.22, `missed ${r.all.missed}`);
});
