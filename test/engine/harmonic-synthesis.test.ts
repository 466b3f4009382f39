import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildDefaultModel } from '../../models/builder/default-model.js';
import { writeModel } from '../../models/builder/write-model.js';
import { parseVoiceProfile, VoiceConversionEngine, type VoiceProfile } from '../../workers/engine/index.js';
import { blocks, decodeFile, loadSpeech, resamplePcm } from '../helpers/audio-io.js';
import { allFinite, peakDbfs } from '../helpers/audio-metrics.js';
import { convertAll, convertWhole } from '../helpers/engine-converter.js';
import { speakers } from '../helpers/librispeech.js';
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
/** The harmonics on the source's own periods, re-measured per synthesis frame, over its periodic share. */
const OWN_PERIODS = {
  ...HARMONIC,
  refine: { halfLags: 12, halfWindow: 128, minCorrelation: 0.7 },
  periodicShare: true,
};
let work: string;
let grains: VoiceConversionEngine;
let harmonic: VoiceConversionEngine;
let ownPeriods: VoiceConversionEngine;
let speech: Record<string, Float32Array>;
let voice: VoiceProfile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-harmonic-'));
  const manifest = JSON.parse(await readFile(join(MODEL_DIR, 'model.json'), 'utf8'));
  await writeModel(
    buildDefaultModel({}, {}, { harmonic: HARMONIC }, { sourcePrior: manifest.analysis.sourcePrior }),
    join(work, 'model'),
  );
  await writeModel(
    buildDefaultModel({}, {}, { harmonic: OWN_PERIODS }, { sourcePrior: manifest.analysis.sourcePrior }),
    join(work, 'own-periods'),
  );
  grains = await VoiceConversionEngine.load(MODEL_DIR);
  harmonic = await VoiceConversionEngine.load(join(work, 'model'));
  ownPeriods = await VoiceConversionEngine.load(join(work, 'own-periods'));
  speech = await loadSpeech(work, harmonic.sampleRate, ['en-us+f3']);
  voice = parseVoiceProfile(JSON.parse(await readFile(join(MODEL_DIR, 'voices', 'espeak-m3.json'), 'utf8')));
});
after(async () => {
  await grains?.close();
  await harmonic?.close();
  await ownPeriods?.close();
  await rm(work, { recursive: true, force: true });
});

const maxDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function chunkedEqualsWhole(engine: VoiceConversionEngine, name: string): Promise<void> {
  assert.ok(
    engine.manifest.graphs.shift.inputs.some(
      (i) => i.name === 'harmonic_phase_in' && i.source.from === 'state',
    ),
    'the variant carries its phase as state',
  );
  const src = speech['en-us+f3'];
  const sourceProfile = await engine.analyse(blocks(src));
  const options = { voice, sourceProfile, strength: 1 };
  // 16384-sample windows: the female source shifted down toward m3 crosses several window edges mid-vowel.
  const chunked = await convertAll(engine, src, { ...options, chunkSamples: 16384 }, [1, 5000, 333, 65536]);
  const whole = await convertWhole(engine, src, options);
  assert.equal(chunked.length, src.length);
  assert.equal(whole.length, src.length);
  assert.ok(allFinite(chunked));
  const diff = maxDiff(chunked, whole);
  console.log(`# ${name}: chunked vs whole-file max |diff| = ${diff}`);
  assert.ok(diff <= 1e-4, `max difference ${diff}`);
  assert.ok(peakDbfs(whole) <= -0.1, `peak ${peakDbfs(whole)} dBFS`);
}

test('the harmonic phase is carried across windows: chunked output equals whole-file output', async () => {
  await chunkedEqualsWhole(harmonic, 'harmonic');
});

test('on the re-measured periods too: chunked output equals whole-file output', async () => {
  await chunkedEqualsWhole(ownPeriods, 'own periods');
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
  const f0 = async (pcm: Float32Array) =>
    yinByFrame(await resamplePcm(pcm, harmonic.sampleRate, MEASURE_RATE));
  const [fg, fh] = await Promise.all([f0(g1), f0(h1)]);
  const ratios = f0Ratios(fg, fh, 'harmonic');
  const [p10, p90] = [percentile(ratios, 0.1), percentile(ratios, 0.9)];
  // The harmonics follow the model's period track, the grains the source's own periods; frame by frame they
  // agree (measured 0.995-1.005 from the 10th to the 90th percentile; scripts/harmonic-f0.ts).
  assert.ok(p10 > 0.99 && p90 < 1.01, `F0 p10 ${p10} p90 ${p90}`);
});

/**
 * YIN's F0 (voice-measures.ts) per 10 ms frame, by the frame's time: voicing() lists voiced frames only, so
 * two outputs' lists compared by position pair different frames wherever their voicing differs (that
 * misalignment, not the synthesis, was the 0.89-1.14 "spread" once reported here).
 */
function yinByFrame(pcm16: Float32Array): number[] {
  const v = voicing(pcm16, MEASURE_RATE);
  const out = new Array<number>(Math.ceil((pcm16.length / MEASURE_RATE) * 100) + 1).fill(0);
  v.time.forEach((t, i) => {
    out[Math.round(t * 100)] = v.f0[i];
  });
  return out;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.floor(p * sorted.length)];

/** Output F0 (YIN) over the grains' per 10 ms frame voiced in both, sorted; at least 50 such frames. */
function f0Ratios(fg: number[], fh: number[], name: string): number[] {
  const ratios: number[] = [];
  let voicedG = 0;
  let voicedH = 0;
  for (let i = 0; i < Math.min(fg.length, fh.length); i++) {
    if (fg[i] > 0) voicedG++;
    if (fh[i] > 0) voicedH++;
    if (fg[i] > 0 && fh[i] > 0) ratios.push(fh[i] / fg[i]);
  }
  ratios.sort((a, b) => a - b);
  const at = (p: number) => percentile(ratios, p);
  console.log(
    `# ${name}: voiced frames grains ${voicedG}, ${name} ${voicedH}; F0 ${name}/grains p10 ${at(0.1)} p50 ${at(0.5)} p90 ${at(0.9)}`,
  );
  assert.ok(ratios.length > 50, `${ratios.length} frames voiced in both`);
  return ratios;
}

test('on real speech shifted down, the harmonics on the re-measured periods keep the grains’ F0 frame by frame', async () => {
  // LibriSpeech 150 (female, the judge's source of 150->2514), converted toward espeak m3: about 0.5 down.
  const file = speakers().find((x) => x.id === '150')?.file ?? '';
  const speaker = await decodeFile(file, { sampleRate: grains.sampleRate });
  const sourceProfile = await grains.analyse(blocks(speaker));
  const options = { voice, sourceProfile, strength: 1 };
  const [g, h] = await Promise.all([
    convertAll(grains, speaker, options),
    convertAll(ownPeriods, speaker, options),
  ]);
  assert.ok(maxDiff(g, h) > 0.01, 'the option changes the output');
  const f0 = async (pcm: Float32Array) => yinByFrame(await resamplePcm(pcm, grains.sampleRate, MEASURE_RATE));
  const ratios = f0Ratios(await f0(g), await f0(h), 'own periods');
  const [p10, p90] = [percentile(ratios, 0.1), percentile(ratios, 0.9)];
  // Measured 0.980-1.010 (the track's own periods on the same: scripts/harmonic-f0.ts).
  assert.ok(p10 > 0.97 && p90 < 1.02, `F0 p10 ${p10} p90 ${p90}`);
});
