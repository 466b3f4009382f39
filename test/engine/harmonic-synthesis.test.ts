import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildDefaultModel } from '../../models/builder/default-model.js';
import { writeModel } from '../../models/builder/write-model.js';
import { parseVoiceProfile, VoiceConversionEngine, type VoiceProfile } from '../../workers/engine/index.js';
import { blocks, loadSpeech } from '../helpers/audio-io.js';
import { allFinite, peakDbfs } from '../helpers/audio-metrics.js';
import { convertAll, convertWhole } from '../helpers/engine-converter.js';
import { MEASURE_RATE, voicing } from '../helpers/voice-measures.js';

// The harmonic synthesis of voiced frames (models/builder/harmonic-synthesis.ts), an option of the default
// model's builder (off in models/default): built here into a model folder and run by the real engine.
const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
const HARMONIC = {
  maxVoicedHz: 4500,
  fade: 0.15,
  shareAtUnity: 0,
  fullAtRatio: 1.1,
  maxShare: 1,
};
let work: string;
let grains: VoiceConversionEngine;
let harmonic: VoiceConversionEngine;
let speech: Record<string, Float32Array>;
let voice: VoiceProfile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-harmonic-'));
  const manifest = JSON.parse(await readFile(join(MODEL_DIR, 'model.json'), 'utf8'));
  await writeModel(
    buildDefaultModel({}, {}, { harmonic: HARMONIC }, { sourcePrior: manifest.analysis.sourcePrior }),
    join(work, 'model'),
  );
  grains = await VoiceConversionEngine.load(MODEL_DIR);
  harmonic = await VoiceConversionEngine.load(join(work, 'model'));
  speech = await loadSpeech(work, harmonic.sampleRate, ['en-us+f3']);
  voice = parseVoiceProfile(JSON.parse(await readFile(join(MODEL_DIR, 'voices', 'espeak-m3.json'), 'utf8')));
});
after(async () => {
  await grains?.close();
  await harmonic?.close();
  await rm(work, { recursive: true, force: true });
});

const maxDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('the harmonic phase is carried across windows: chunked output equals whole-file output', async () => {
  assert.ok(
    harmonic.manifest.graphs.shift.inputs.some(
      (i) => i.name === 'harmonic_phase_in' && i.source.from === 'state',
    ),
    'the variant carries its phase as state',
  );
  const src = speech['en-us+f3'];
  const sourceProfile = await harmonic.analyse(blocks(src));
  const options = { voice, sourceProfile, strength: 1 };
  // 16384-sample windows: the female source shifted down toward m3 crosses several window edges mid-vowel.
  const chunked = await convertAll(harmonic, src, { ...options, chunkSamples: 16384 }, [1, 5000, 333, 65536]);
  const whole = await convertWhole(harmonic, src, options);
  assert.equal(chunked.length, src.length);
  assert.equal(whole.length, src.length);
  assert.ok(allFinite(chunked));
  const diff = maxDiff(chunked, whole);
  console.log(`# harmonic: chunked vs whole-file max |diff| = ${diff}`);
  assert.ok(diff <= 1e-4, `max difference ${diff}`);
  assert.ok(peakDbfs(whole) <= -0.1, `peak ${peakDbfs(whole)} dBFS`);
});

test('a downward shift is synthesised from harmonics; with no shift (strength 0) the output is the grains’', async () => {
  const src = speech['en-us+f3'];
  const sourceProfile = await grains.analyse(blocks(src));
  const at = (strength: number) => ({ voice, sourceProfile, strength });
  const [g1, h1, g0, h0] = await Promise.all([
    convertAll(grains, src, at(1)),
    convertAll(harmonic, src, at(1)),
    convertAll(grains, src, at(0)),
    convertAll(harmonic, src, at(0)),
  ]);
  const shifted = maxDiff(g1, h1);
  const unshifted = maxDiff(g0, h0);
  console.log(`# strength 1: max |harmonic - grains| ${shifted}; strength 0: ${unshifted}`);
  assert.equal(unshifted, 0, 'strength 0 asks no shift: no harmonic share');
  assert.ok(shifted > 0.01, `the harmonics change a downward shift: ${shifted}`);
  // The output's F0 (YIN, voice-measures.ts) where both are voiced: the same contour, the harmonics at it.
  const f0 = async (pcm: Float32Array) => {
    const { resamplePcm } = await import('../helpers/audio-io.js');
    return voicing(await resamplePcm(pcm, harmonic.sampleRate, MEASURE_RATE), MEASURE_RATE).f0;
  };
  const [fg, fh] = await Promise.all([f0(g1), f0(h1)]);
  const ratios: number[] = [];
  let voicedG = 0;
  let voicedH = 0;
  for (let i = 0; i < Math.min(fg.length, fh.length); i++) {
    if (fg[i] > 0) voicedG++;
    if (fh[i] > 0) voicedH++;
    if (fg[i] > 0 && fh[i] > 0) ratios.push(fh[i] / fg[i]);
  }
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)];
  console.log(`# voiced frames grains ${voicedG}, harmonic ${voicedH}; median F0 harmonic/grains ${median}`);
  assert.ok(ratios.length > 50, `${ratios.length} frames voiced in both`);
  // Not 1: the harmonics follow the model's period track, the grains the source's own periods (measured at
  // no shift on this source: the track's median lies 2.2 % low, its 10th-90th percentiles 0.89-1.14 of the
  // source's F0 against the grains' 0.96-1.05; docs/MODEL-NOTES.md). Held to the judge's F0 bar.
  assert.ok(Math.abs(median - 1) < 0.05, `median F0 ratio ${median}`);
});
