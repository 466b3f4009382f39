import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { VoiceProfileError } from './errors.js';

/**
 * Cepstral coefficients c1..cQ kept per envelope (c0, the level, is dropped): the default count, what a
 * manifest without `analysis.envelopeCepstra` and a profile without `envelopeCepstra` mean.
 */
export const CEPSTRA = 24;
/** The most band cepstra a model may ask of its profiles (bounds the profile and prior arrays). */
export const MAX_CEPSTRA = 64;
/** Frames a formant inventory keeps at most (an evenly spaced sample of every voiced frame; formant-match.ts). */
export const FORMANT_INVENTORY_FRAMES = 256;
/** Frames an envelope exemplar bank keeps at most (the manifest's analysis.envelopeExemplars may ask fewer). */
export const MAX_ENVELOPE_EXEMPLARS = 2048;

export const VoiceProfileSchema = Type.Object({
  format: Type.Literal('vcfarm-voice/1'),
  /** Name of the model that analysed it; envelopes are only comparable within one model. */
  model: Type.String(),
  sampleRate: Type.Integer({ minimum: 1 }),
  /**
   * Median F0 in Hz of the frames voiced enough for the F0 statistics (the manifest's analysis.f0VoicingThreshold,
   * else voicingThreshold), or null when nothing was voiced. voicedSeconds counts those frames.
   */
  f0Median: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
  /** 10th and 90th percentile F0 (Hz), null like f0Median. */
  f0P10: Type.Union([Type.Number(), Type.Null()]),
  f0P90: Type.Union([Type.Number(), Type.Null()]),
  voicedSeconds: Type.Number({ minimum: 0 }),
  durationSeconds: Type.Number({ minimum: 0 }),
  /** Natural log of the long-term mean power per FFT bin (energy-weighted, so silence hardly counts). */
  envelope: Type.Array(Type.Number()),
  /**
   * Median F1, F2, F3 (Hz) by LPC over voiced frames: the vocal-tract scale the default model warps by.
   * 0 where unknown (nothing voiced). Absent in profiles made before the formant-warping model.
   */
  formants: Type.Optional(Type.Array(Type.Number({ minimum: 0 }), { minItems: 3, maxItems: 3 })),
  /**
   * F1, F2, F3 (Hz) of an evenly spaced sample of its voiced frames, [n][3] row-major, at most
   * FORMANT_INVENTORY_FRAMES frames (formant-match.ts): what a model that matches a source's frames to the
   * target's (the manifest's analysis.formantMatch) reads. Absent in profiles made before it (their
   * conversions use the median formants).
   */
  formantInventory: Type.Optional(
    Type.Array(Type.Number({ minimum: 0 }), { maxItems: 3 * FORMANT_INVENTORY_FRAMES }),
  ),
  /**
   * Envelope codebook (k-means centroids of the frames' level-free cepstra, [entries][24]) that profiles
   * cloned from 2026-11 until the envelope statistics replaced it carry. Nothing reads it and no profile is
   * made with it any more; it is only accepted, so those profiles still load.
   */
  codebook: Type.Optional(Type.Array(Type.Number(), { maxItems: 64 * 24 })),
  /**
   * Whole-stream statistics of the same cepstra over every frame above the silence floor, for the linear
   * envelope mapping (envelope-stats.ts): their mean [Q], and the symmetric square roots of their
   * covariance and of its inverse, row-major [Q][Q] (Q: envelopeCepstra). Absent in profiles made before it.
   */
  envelopeMean: Type.Optional(Type.Array(Type.Number(), { maxItems: 2 * MAX_CEPSTRA })),
  envelopeRoot: Type.Optional(Type.Array(Type.Number(), { maxItems: 2 * MAX_CEPSTRA * MAX_CEPSTRA })),
  envelopeInverseRoot: Type.Optional(Type.Array(Type.Number(), { maxItems: 2 * MAX_CEPSTRA * MAX_CEPSTRA })),
  /**
   * How many band cepstra per class the envelope statistics hold (the manifest's analysis.envelopeCepstra).
   * Absent: 24 (CEPSTRA), as every profile made before the count was a model option.
   */
  envelopeCepstra: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CEPSTRA })),
  /**
   * Frames each class's statistics rest on (a class too small to stand alone counts all frames): how far a
   * short source's statistics are moved toward the model's prior (envelope-prior.ts). Absent in profiles
   * made before it (they are used as they are).
   */
  envelopeFrames: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 2 })),
  /**
   * Where its envelope cepstra start (Hz; voice-features.ts cepstrumTable): the log power below it was read at
   * the first bin above it. Absent: the whole band (0 Hz), as profiles made before 2026-11-30's rumble-free
   * cepstra; a model whose manifest names another start refuses the profile (clone the voice again).
   */
  envelopeFromHz: Type.Optional(Type.Number({ minimum: 0 })),
  /**
   * Envelope exemplars: an evenly spaced sample of the clone's frames above the silence floor, each row
   * [class, c1..cQ] (class 1 voiced, -1 not; the same band cepstra as the envelope statistics), [n][Q + 1]
   * row-major, at most MAX_ENVELOPE_EXEMPLARS rows: what a model whose manifest asks for them
   * (analysis.envelopeExemplars) pulls each frame's requested envelope toward (its k nearest rows).
   * Absent in profiles made before it or by a model that does not ask: such a model then leaves it out.
   */
  envelopeExemplars: Type.Optional(
    Type.Array(Type.Number(), { maxItems: (MAX_CEPSTRA + 1) * MAX_ENVELOPE_EXEMPLARS }),
  ),
  /** Where the voice came from, for humans. */
  label: Type.Optional(Type.String()),
});

export type VoiceProfile = Static<typeof VoiceProfileSchema>;

/** Validates JSON (e.g. a preset file) as a voice profile; throws VoiceProfileError naming the first bad path. */
export function parseVoiceProfile(json: unknown): VoiceProfile {
  if (!Value.Check(VoiceProfileSchema, json)) {
    const first = [...Value.Errors(VoiceProfileSchema, json)][0];
    throw new VoiceProfileError(
      `voice profile: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`,
    );
  }
  return json;
}

/**
 * Two octaves either way (a 90 Hz voice to a 300 Hz one is 1.7 octaves; extra semitones reach 24). The
 * default model's context covers grains read at this ratio.
 */
export const MAX_PITCH_RATIO = 4;

/**
 * Ratio for the pitch shifter (the default model takes it in-graph; a service could also hand it to ffmpeg
 * `rubberband=pitch=RATIO:formant=preserved` for other models) so the source's
 * median F0 lands on the target's (the way there scaled by `strength`, 0..2 in log F0), times
 * `extraSemitones`. Unvoiced profiles give just the extra shift.
 */
export function pitchRatioFor(
  source: VoiceProfile,
  target: VoiceProfile,
  extraSemitones = 0,
  strength = 1,
): number {
  const extra = 2 ** (extraSemitones / 12);
  const base = source.f0Median && target.f0Median ? target.f0Median / source.f0Median : 1;
  const ratio = base ** strength * extra;
  if (!Number.isFinite(ratio)) return 1;
  return Math.min(MAX_PITCH_RATIO, Math.max(1 / MAX_PITCH_RATIO, ratio));
}

/** The spread exponent is kept within this range: beyond it intonation is flattened or exaggerated. */
const SPREAD_RANGE = [0.5, 1.5] as const;

/**
 * Log-F0 range mapping for models that take it: [source median F0, k] with k the target's spread of log F0
 * (P10..P90) over the source's, so f0_out = f0_src * ratio * (f0_src / median)^(k - 1) gives the output the
 * target's spread around the target's median (k moved from 1 by `strength`). Profiles without F0 statistics give k = 1 (no mapping).
 */
export function pitchMapFor(source: VoiceProfile, target: VoiceProfile, strength = 1): [number, number] {
  const median = source.f0Median ?? 0;
  const spread = (p: VoiceProfile): number =>
    p.f0P10 && p.f0P90 && p.f0P90 > p.f0P10 ? Math.log(p.f0P90 / p.f0P10) : Number.NaN;
  const k = 1 + (spread(target) / spread(source) - 1) * strength;
  if (!(median > 0) || !Number.isFinite(k)) return [1, 1];
  return [median, Math.min(SPREAD_RANGE[1], Math.max(SPREAD_RANGE[0], k))];
}
