import type { ModelManifest, VoiceProfile } from '../../workers/engine/index.js';
import { OPSET } from './built-model.js';
import { bins, type Framing, pitch, power, stft } from './dsp.js';
import { GraphBuilder } from './graph-builder.js';

/** ContentVec's frame: 320 samples at 16 kHz (50 frames/s); RVC repeats each twice (100 frames/s). */
export const RVC_FEATURE_HOP = 320;
export const RVC_FRAME_HOP = 160;
export const RVC_CHANNELS = 768;
export const RVC_NOISE_CHANNELS = 192;

/**
 * The F0 tracker of the builder's DSP (normalised autocorrelation, as the default model's) at 16 kHz, 32 ms
 * frames, one per 10 ms. Range 50-800 Hz rather than RVC's 50-1100: on real speech (LibriSpeech) a wider
 * range or 64 ms frames let short lags win on breathy frames (medians off by up to 3x on some speakers);
 * with these settings the medians land where the default model's do.
 */
export const RVC_F0_FRAMING: Framing = { sampleRate: 16000, nfft: 512, hop: RVC_FRAME_HOP };
const RVC_F0_RANGE = [50, 800] as const;

/** An F0 tracker for RVC folders: f0 / voicing / energy / power per 160-sample frame of 16 kHz audio. */
export function rvcTrackerGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-rvc-f0');
  const audio = b.input('audio', 'float32', [1, 'samples']);
  const pow = power(b, stft(b, audio, RVC_F0_FRAMING));
  const p = pitch(b, pow, RVC_F0_FRAMING, ...RVC_F0_RANGE);
  b.output(p.f0, 'f0', 'float32', [1, 'frames']);
  b.output(p.voicing, 'voicing', 'float32', [1, 'frames']);
  b.output(p.energy, 'energy', 'float32', [1, 'frames']);
  b.output(pow, 'power', 'float32', [1, 'frames', bins(RVC_F0_FRAMING)]);
  return b.toBytes(OPSET);
}

export interface RvcFolderOptions {
  /** The manifest's name (voice profiles name it). */
  name: string;
  /** File of the ContentVec export (input [1, 1, n] at 16 kHz, output [1, T, 768]). */
  vec: string;
  /** File of the RVC v2 generator export. */
  generator: string;
  /** The generator's rate: 32000, 40000 or 48000. */
  outputSampleRate: number;
}

/**
 * The manifest that serves an RVC v2 export with its ContentVec by itself: F0 from `f0.onnx`
 * (rvcTrackerGraph), features repeated to 100 frames/s as RVC's own inference does, coarse bins,
 * the speaker id from the voice (`speakerId`, default 0), seeded noise.
 */
export function rvcManifest(o: RvcFolderOptions): ModelManifest {
  const frames = [1, 'frames'];
  return {
    format: 'vcfarm-model/1',
    name: o.name,
    sampleRate: 16000,
    outputSampleRate: o.outputSampleRate,
    chunkSamples: 16000 * 4,
    context: { left: 16000 / 5, right: 16000 / 5 },
    alignSamples: RVC_FEATURE_HOP,
    frames: { hop: RVC_FRAME_HOP },
    graphs: {
      f0: {
        file: 'f0.onnx',
        inputs: [{ name: 'audio', dtype: 'float32', shape: [1, 'samples'], source: { from: 'audio' } }],
        outputs: [
          { name: 'f0', dtype: 'float32', shape: frames },
          { name: 'voicing', dtype: 'float32', shape: frames },
          { name: 'energy', dtype: 'float32', shape: frames },
          { name: 'power', dtype: 'float32', shape: [1, 'frames', bins(RVC_F0_FRAMING)] },
        ],
      },
      vec: {
        file: o.vec,
        inputs: [{ name: 'source', dtype: 'float32', shape: [1, 1, 'n'], source: { from: 'audio' } }],
        outputs: [{ name: 'embed', dtype: 'float32', shape: [1, 'frames', RVC_CHANNELS] }],
      },
      generator: {
        file: o.generator,
        inputs: [
          {
            name: 'phone',
            dtype: 'float32',
            shape: [1, 'frames', RVC_CHANNELS],
            source: { from: 'features', graph: 'vec', output: 'embed', repeat: 2 },
          },
          { name: 'phone_lengths', dtype: 'int64', shape: [1], source: { from: 'frameCount' } },
          { name: 'pitch', dtype: 'int64', shape: frames, source: { from: 'f0', unit: 'coarse' } },
          { name: 'pitchf', dtype: 'float32', shape: frames, source: { from: 'f0', unit: 'hz' } },
          {
            name: 'ds',
            dtype: 'int64',
            shape: [1],
            source: { from: 'voice', field: 'speakerId', default: 0 },
          },
          {
            name: 'rnd',
            dtype: 'float32',
            shape: [1, RVC_NOISE_CHANNELS, 'frames'],
            source: { from: 'noise', seed: 1 },
          },
        ],
        outputs: [{ name: 'audio', dtype: 'float32', shape: [1, 1, 'samples'] }],
      },
    },
    analysis: {
      graph: 'f0',
      frameLength: RVC_F0_FRAMING.nfft,
      frameHop: RVC_F0_FRAMING.hop,
      outputs: { f0: 'f0', voicing: 'voicing', energy: 'energy', power: 'power' },
      // Looser than the default model's 0.8: an RVC generator renders unvoiced frames as noise, and on
      // LibriSpeech 0.6 keeps 37-92 % of each utterance voiced (0.8: 14-85 %) with the same medians.
      voicingThreshold: 0.6,
      silenceDb: -45,
    },
    conversion: { chain: ['vec', 'generator'], output: { graph: 'generator', output: 'audio' } },
  };
}

/** A preset voice of an RVC model: its speaker id and, if known, the speaker's median F0 (jobs transpose to it). */
export function rvcPreset(
  model: string,
  speakerId: number,
  f0Median: number | null,
  label?: string,
): VoiceProfile {
  const profile: VoiceProfile & { speakerId: number } = {
    format: 'vcfarm-voice/1',
    model,
    sampleRate: 16000,
    f0Median,
    f0P10: null,
    f0P90: null,
    voicedSeconds: 0,
    durationSeconds: 0,
    envelope: [],
    speakerId,
  };
  if (label) profile.label = label;
  return profile;
}
