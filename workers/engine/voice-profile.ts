import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { VoiceProfileError } from './errors.js';

export const VoiceProfileSchema = Type.Object({
  format: Type.Literal('vcfarm-voice/1'),
  /** Name of the model that analysed it; envelopes are only comparable within one model. */
  model: Type.String(),
  sampleRate: Type.Integer({ minimum: 1 }),
  /** Median F0 of voiced frames in Hz, or null when nothing was voiced. */
  f0Median: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
  /** 10th and 90th percentile F0 (Hz), null like f0Median. */
  f0P10: Type.Union([Type.Number(), Type.Null()]),
  f0P90: Type.Union([Type.Number(), Type.Null()]),
  voicedSeconds: Type.Number({ minimum: 0 }),
  durationSeconds: Type.Number({ minimum: 0 }),
  /** Natural log of the long-term mean power per FFT bin (energy-weighted, so silence hardly counts). */
  envelope: Type.Array(Type.Number()),
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

/** One octave either way: beyond it any shifter sounds broken, and the default model clips there too. */
const MAX_RATIO = 2;

/**
 * Ratio for the pitch shifter (the default model takes it in-graph; a service could also hand it to ffmpeg
 * `rubberband=pitch=RATIO:formant=preserved` for other models) so the source's
 * median F0 lands on the target's, times `extraSemitones`. Unvoiced profiles give just the extra shift.
 */
export function pitchRatioFor(source: VoiceProfile, target: VoiceProfile, extraSemitones = 0): number {
  const extra = 2 ** (extraSemitones / 12);
  const base = source.f0Median && target.f0Median ? target.f0Median / source.f0Median : 1;
  const ratio = base * extra;
  if (!Number.isFinite(ratio)) return 1;
  return Math.min(MAX_RATIO, Math.max(1 / MAX_RATIO, ratio));
}

/** The spread exponent is kept within this range: beyond it intonation is flattened or exaggerated. */
const SPREAD_RANGE = [0.5, 1.5] as const;

/**
 * Log-F0 range mapping for models that take it: [source median F0, k] with k the target's spread of log F0
 * (P10..P90) over the source's, so f0_out = f0_src * ratio * (f0_src / median)^(k - 1) gives the output the
 * target's spread around the target's median. Profiles without F0 statistics give k = 1 (no mapping).
 */
export function pitchMapFor(source: VoiceProfile, target: VoiceProfile): [number, number] {
  const median = source.f0Median ?? 0;
  const spread = (p: VoiceProfile): number =>
    p.f0P10 && p.f0P90 && p.f0P90 > p.f0P10 ? Math.log(p.f0P90 / p.f0P10) : Number.NaN;
  const k = spread(target) / spread(source);
  if (!(median > 0) || !Number.isFinite(k)) return [1, 1];
  return [median, Math.min(SPREAD_RANGE[1], Math.max(SPREAD_RANGE[0], k))];
}
