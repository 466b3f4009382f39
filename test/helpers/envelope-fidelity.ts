import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { buildDefaultModel } from '../../models/builder/default-model.js';
import type { EnvelopeFitOptions, EnvelopeMapOptions } from '../../models/builder/envelope-map.js';
import type { PitchShiftOptions } from '../../models/builder/pitch-shift.js';
import { writeModel } from '../../models/builder/write-model.js';
import {
  ENVELOPE_CLASSES,
  pitchMapFor,
  pitchRatioFor,
  type VoiceConversionEngine,
  type VoiceProfile,
} from '../../workers/engine/index.js';
import { cepstrumEdge, cepstrumTable, frameCepstrum } from '../../workers/engine/voice-features.js';
import { CEPSTRA } from '../../workers/engine/voice-profile.js';
import { blocks } from './audio-io.js';
import type { Judge, Pair } from './judge.js';
import { firstPart, PcmCache } from './librispeech.js';

/**
 * How much of the envelope the mapping asks for reaches the synthesis stage's output (issue 10).
 * The default model's shift graph is built with a probe output, `requested`: the band cepstra c1..c24
 * (0-8 kHz, level-free: the profile's envelope statistics' space) each pitch frame is asked to get. It runs once over the whole
 * source (voice cloned from the target's first 60 %); the analysis graph then measures the same cepstra on
 * its output on the same frames. Distances are Euclidean over c1..c24, medians over loud voiced frames:
 * asked = |input - requested|, missed = |output - requested|, moved = |output - input|; `share` = 1 -
 * missed / asked, how much of the way the output got.
 */
export interface FidelityOptions {
  synthesis: PitchShiftOptions['synthesis'];
  /** The closed-loop fit's options, or null for none. */
  fit: Partial<EnvelopeFitOptions> | null;
  /** The graph's strength (warp and envelope map); the pitch ratio stays at strength 1. */
  mapStrength?: number;
  /** Pitch ratio 1, no range mapping. */
  noPitch?: boolean;
  shiftTuning?: Partial<PitchShiftOptions>;
  mapTuning?: Partial<EnvelopeMapOptions>;
}

export interface Fidelity {
  pair: Pair;
  frames: number;
  asked: number;
  missed: number;
  moved: number;
  share: number;
  /** |mean over frames of output - requested|: the systematic part of the miss. */
  meanMiss: number;
}

const median = (v: number[]): number => {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const distance = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let q = 0; q < CEPSTRA; q++) s += (a[q] - b[q]) ** 2;
  return Math.sqrt(s);
};
const f32 = (v: ArrayLike<number>, dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);
const stats = [ENVELOPE_CLASSES, CEPSTRA, CEPSTRA];

/** Runs the probe over `pairs`; `engine` (the shipped model) makes the profiles. Per pair, and all frames pooled. */
export async function envelopeFidelity(
  judge: Judge,
  engine: VoiceConversionEngine,
  pairs: readonly Pair[],
  o: FidelityOptions,
): Promise<{ pairs: Fidelity[]; all: Omit<Fidelity, 'pair' | 'meanMiss'> }> {
  const work = await mkdtemp(join(tmpdir(), 'vcfarm-fidelity-'));
  try {
    // Without the exemplar stage on the output unless asked: it re-colours the fitted output toward the
    // target's frames after the request is rendered, so it is not the rendering of the request measured here.
    const built = buildDefaultModel(
      { exemplars: null, ...o.mapTuning },
      {},
      { ...o.shiftTuning, synthesis: o.synthesis },
      { fit: o.fit, probe: true },
    );
    const dir = join(work, 'model');
    await writeModel(built, dir);
    const { context, sampleRate, alignSamples } = built.manifest;
    const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
    const shift = await InferenceSession.create(join(dir, 'shift.onnx'), options);
    const analyse = await InferenceSession.create(join(dir, 'analyse.onnx'), options);
    const cache = new PcmCache(work);

    /** Band cepstra per analysis frame of `audio`, and which frames are loud (within 35 dB) and voiced. */
    const cepstra = async (audio: Float32Array): Promise<{ c: Float64Array[]; keep: boolean[] }> => {
      const out = await analyse.run({ audio: f32(audio, [1, audio.length]) });
      const power = out.power.data as Float32Array;
      const voicing = out.voicing.data as Float32Array;
      const [, frames, bins] = out.power.dims;
      const fromHz = built.manifest.analysis.envelopeFromHz ?? 0;
      const table = cepstrumTable(bins, sampleRate, fromHz);
      const fromBin = cepstrumEdge(sampleRate / (2 * (bins - 1)), fromHz);
      const c: Float64Array[] = [];
      const level: number[] = [];
      for (let i = 0; i < frames; i++) {
        const row = new Float64Array(CEPSTRA);
        frameCepstrum(power, i * bins, bins, table, row, fromBin);
        c.push(row);
        let s = 0;
        for (let k = 0; k < bins; k++) s += power[i * bins + k];
        level.push(10 * Math.log10(s + 1e-20));
      }
      const loudest = Math.max(...level);
      return { c, keep: level.map((l, i) => l > loudest - 35 && voicing[i] >= 0.8) };
    };

    const results: Fidelity[] = [];
    const all = { asked: [] as number[], missed: [] as number[], moved: [] as number[] };
    for (const pair of pairs) {
      const source = await cache.resample(judge.speech(pair.source), 16000, sampleRate);
      const clone = await cache.resample(firstPart(judge.speech(pair.target)), 16000, sampleRate);
      const voice: VoiceProfile = await engine.analyse(blocks(clone));
      const sourceProfile: VoiceProfile = await engine.analyse(blocks(source));
      const owned = Math.ceil(source.length / alignSamples) * alignSamples;
      const audio = new Float32Array(context.left + owned + context.right);
      audio.set(source, context.left);
      const out = await shift.run({
        audio: f32(audio, [1, audio.length]),
        nudge_in: f32([0], [1]),
        pitch_ratio: f32([o.noPitch ? 1 : pitchRatioFor(sourceProfile, voice)], [1]),
        pitch_map: f32(o.noPitch ? [1, 1] : pitchMapFor(sourceProfile, voice), [2]),
        source_formants: f32(sourceProfile.formants ?? [0, 0, 0], [3]),
        target_formants: f32(voice.formants ?? [0, 0, 0], [3]),
        strength: f32([o.mapStrength ?? 1], [1]),
        source_envelope_mean: f32(sourceProfile.envelopeMean ?? [], [ENVELOPE_CLASSES, CEPSTRA]),
        source_envelope_inverse_root: f32(sourceProfile.envelopeInverseRoot ?? [], stats),
        target_envelope_mean: f32(voice.envelopeMean ?? [], [ENVELOPE_CLASSES, CEPSTRA]),
        target_envelope_root: f32(voice.envelopeRoot ?? [], stats),
        ...(shift.inputNames.includes('source_envelope_root')
          ? { source_envelope_root: f32(sourceProfile.envelopeRoot ?? [], stats) }
          : {}),
      });
      const requested = out.requested.data as Float32Array;
      const input = await cepstra(audio);
      const output = await cepstra(out.shifted.data as Float32Array);
      const d = { asked: [] as number[], missed: [] as number[], moved: [] as number[] };
      const bias = new Float64Array(CEPSTRA);
      // Analysis frame i is centred on sample 256 i + 512, pitch frame j on 256 j + 256: j = i + 1. Frames
      // in the context either side are left out.
      const first = Math.ceil(context.left / 256);
      const last = Math.floor((context.left + source.length - 1024) / 256);
      for (let i = first; i <= last; i++) {
        if (!input.keep[i]) continue;
        const req = requested.subarray((i + 1) * CEPSTRA, (i + 2) * CEPSTRA);
        d.asked.push(distance(input.c[i], req));
        d.missed.push(distance(output.c[i], req));
        d.moved.push(distance(output.c[i], input.c[i]));
        for (let q = 0; q < CEPSTRA; q++) bias[q] += output.c[i][q] - req[q];
      }
      for (const k of ['asked', 'missed', 'moved'] as const) all[k].push(...d[k]);
      const [asked, missed, moved] = [median(d.asked), median(d.missed), median(d.moved)];
      results.push({
        pair,
        frames: d.asked.length,
        asked,
        missed,
        moved,
        share: 1 - missed / asked,
        meanMiss: Math.sqrt(bias.reduce((s, v) => s + (v / d.asked.length) ** 2, 0)),
      });
    }
    const [asked, missed, moved] = [median(all.asked), median(all.missed), median(all.moved)];
    await shift.release();
    await analyse.release();
    return {
      pairs: results,
      all: { frames: all.asked.length, asked, missed, moved, share: 1 - missed / asked },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
