import type { ReferenceAnalysis } from '../engine/index.js';

/** Voiced speech a clone's reference needs at least (seconds of frames counted in the F0 statistics). */
export const MIN_VOICED_SECONDS = 0.5;
/**
 * A reference whose F0 holds still (ProfileAccumulator.steadyPitchShare) in this share of its consecutive
 * voiced frames or more is no speech. Measured on the default model: the 40 LibriSpeech speakers hold
 * still in 0.09-0.25 of their pairs, espeak-ng voices in 0.16-0.36, a sung note with vibrato 0.17; a tone,
 * two tones (together or in turns), a buzz or a beep in 0.96-1, a tone in light noise 0.70, a slow sweep
 * 0.91 (test/integration/clone-speech.test.ts clones the speakers and the refused sounds).
 */
export const MAX_STEADY_PITCH_SHARE = 0.5;

export interface ReferenceRefusal {
  code: 'VC_ERR_NO_VOICE';
  message: string;
}

/** Why a clone's reference recording holds no speech to clone, or null when it does. */
export function referenceRefusal(analysis: ReferenceAnalysis): ReferenceRefusal | null {
  if (!(analysis.profile.voicedSeconds > MIN_VOICED_SECONDS)) {
    return {
      code: 'VC_ERR_NO_VOICE',
      message:
        'the reference recording has too little voiced speech (silence, noise or whispering): upload a recording of someone speaking',
    };
  }
  if (analysis.steadyPitchShare !== null && analysis.steadyPitchShare >= MAX_STEADY_PITCH_SHARE) {
    return {
      code: 'VC_ERR_NO_VOICE',
      message:
        'the reference recording holds no speech: its pitch stays fixed, as a tone, a hum or a beep does, where a speaking voice moves all the time; upload a recording of someone speaking',
    };
  }
  return null;
}
