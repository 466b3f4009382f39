import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ConverterOptions, VoiceConversionEngine } from '../../workers/engine/index.js';
import { blocks, concat, loadSpeech } from '../helpers/audio-io.js';
import {
  bandDistanceDb,
  envelopeDynamicsCorrelation,
  envelopeTrack,
  ltasBandsDb,
  median,
  peakDbfs,
  yinPitch,
} from '../helpers/audio-metrics.js';

const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
let engine: VoiceConversionEngine;
let speech: Record<string, Float32Array>;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-quality-'));
  engine = await VoiceConversionEngine.load(MODEL_DIR);
  speech = await loadSpeech(work, engine.sampleRate);
});
after(async () => {
  await engine?.close();
  await rm(work, { recursive: true, force: true });
});

async function convertAll(pcm: Float32Array, options: ConverterOptions): Promise<Float32Array> {
  const out: Float32Array[] = [];
  for await (const b of engine.convert(blocks(pcm), options)) out.push(b);
  return concat(out);
}

// Source and target are always different speakers; medians differ by >= 30 % (asserted), both directions.
const PAIRS = [
  ['alsa', 'en-us+m3'],
  ['en-us+m3', 'alsa'],
  ['en-us+f3', 'en-us+m3'],
  ['en-us+m3', 'en-us+f3'],
] as const;

for (const [from, to] of PAIRS) {
  test(`${from} -> ${to}: pitch, timbre, dynamics, duration, level`, async () => {
    const sr = engine.sampleRate;
    const src = speech[from];
    const tgt = speech[to];
    // 1. The pool task's passes: analyse the input, convert (the model measures the shifted envelope).
    const sourceProfile = await engine.analyse(blocks(src));
    const voice = await engine.analyse(blocks(tgt));
    const out = await convertAll(src, { voice, sourceProfile, strength: 1 });

    // 2. Independent measurements.
    const f0Src = median(yinPitch(src, sr));
    const f0Tgt = median(yinPitch(tgt, sr));
    const f0Out = median(yinPitch(out, sr));
    assert.ok(Math.abs(f0Tgt / f0Src - 1) >= 0.3, `pair too close: ${f0Src} vs ${f0Tgt} Hz`);
    const ltasTgt = ltasBandsDb(tgt, sr);
    const before_ = bandDistanceDb(ltasBandsDb(src, sr), ltasTgt);
    const after_ = bandDistanceDb(ltasBandsDb(out, sr), ltasTgt);
    const dynamics = envelopeDynamicsCorrelation(envelopeTrack(src, sr), envelopeTrack(out, sr));
    const report = {
      f0: { source: f0Src, target: f0Tgt, output: f0Out, error: f0Out / f0Tgt - 1 },
      envelopeDistanceDb: { before: before_, after: after_, cut: 1 - after_ / before_ },
      dynamics,
      peakDbfs: peakDbfs(out),
    };
    console.log(`# ${from} -> ${to} ${JSON.stringify(report)}`);

    assert.ok(Math.abs(report.f0.error) <= 0.05, `median F0 off by ${(report.f0.error * 100).toFixed(1)} %`);
    assert.ok(
      report.envelopeDistanceDb.cut >= 0.6,
      `envelope distance cut by ${report.envelopeDistanceDb.cut}`,
    );
    assert.ok(dynamics >= 0.8, `envelope-change correlation ${dynamics}`);
    assert.equal(out.length, src.length);
    assert.ok(report.peakDbfs <= -0.1, `peak ${report.peakDbfs} dBFS`);
  });
}
