import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VoiceProfile } from '../../workers/engine/index.js';
import { ProfileAccumulator } from '../../workers/engine/profile-accumulator.js';
import {
  MAX_STEADY_PITCH_SHARE,
  MIN_VOICED_SECONDS,
  referenceRefusal,
} from '../../workers/tasks/reference-check.js';
import { accumulatorOptions } from '../helpers/accumulator-options.js';

const BINS = 4;
/** 256-sample frames at 24 kHz (10.7 ms): holding still means moving less than 5.33 cents a frame. */
const options = accumulatorOptions(BINS);

/** Frames with the given F0s (0: unvoiced), voiced frames at voicing 0.95, every frame above the floor. */
function frames(f0s: number[], from = 0) {
  return {
    f0: Float32Array.from(f0s),
    voicing: Float32Array.from(f0s, (f) => (f > 0 ? 0.95 : 0.1)),
    energy: new Float32Array(f0s.length).fill(0.01),
    power: new Float32Array(f0s.length * BINS).fill(1e-3),
    from,
    to: f0s.length,
  };
}

/** `n` F0s from `hz`, each `cents` above the one before. */
const glide = (hz: number, cents: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => hz * 2 ** ((i * cents) / 1200));

const shareOf = (batches: ReturnType<typeof frames>[], o = options): number | null => {
  const acc = new ProfileAccumulator({ ...o, details: 'none' });
  for (const b of batches) acc.add(b);
  return acc.steadyPitchShare;
};

test('steadyPitchShare: the share of consecutive voiced frames whose F0 moves under 500 cents a second', () => {
  // 1. A tone holds still in every pair; F0 gliding 5 cents a frame (469 cents/s) too, 6 cents (563/s) in none.
  assert.equal(shareOf([frames(glide(440, 0, 100))]), 1);
  assert.equal(shareOf([frames(glide(200, 5, 100))]), 1);
  assert.equal(shareOf([frames(glide(200, 6, 100))]), 0);
  // 2. Two tones taking turns (440 / 554 Hz every 50 frames): only the turns move.
  const turns = [...glide(440, 0, 50), ...glide(554, 0, 50), ...glide(440, 0, 50)];
  assert.equal(shareOf([frames(turns)]), 147 / 149);
  // 3. Only frames next to each other pair up: an unvoiced frame between two voiced ones makes no pair.
  assert.equal(shareOf([frames([200, 0, 200, 0, 200])]), null);
  assert.equal(shareOf([frames([200, 200, 0, 260, 260, 0, 300])]), 1);
  // 4. A pair spans two batches (two windows of one stream), from each batch's `from` on.
  assert.equal(shareOf([frames([200, 200]), frames([200.5, 300])]), 2 / 3);
  assert.equal(shareOf([frames([200, 200]), frames([201, 200], 1)]), 1);
  // 5. Nothing voiced: no pair, no share.
  assert.equal(shareOf([frames([0, 0, 0])]), null);
  // 6. The limit is a rate: with frames half as long (5.3 ms), 3 cents a frame (563 cents/s) moves.
  assert.equal(shareOf([frames(glide(200, 3, 100))]), 1);
  assert.equal(shareOf([frames(glide(200, 3, 100))], { ...options, frameHop: 128 }), 0);
});

const analysis = (voicedSeconds: number, steadyPitchShare: number | null) => ({
  profile: { voicedSeconds } as VoiceProfile,
  steadyPitchShare,
});

test('referenceRefusal: too little voiced speech, or a pitch that holds still, is no voice to clone', () => {
  const quiet = referenceRefusal(analysis(MIN_VOICED_SECONDS, null));
  assert.equal(quiet?.code, 'VC_ERR_NO_VOICE');
  assert.match(quiet?.message ?? '', /too little voiced speech/);
  const tone = referenceRefusal(analysis(10, 1));
  assert.equal(tone?.code, 'VC_ERR_NO_VOICE');
  assert.match(tone?.message ?? '', /no speech: its pitch stays fixed, as a tone/);
  assert.equal(referenceRefusal(analysis(10, MAX_STEADY_PITCH_SHARE))?.code, 'VC_ERR_NO_VOICE');
  // Speech: LibriSpeech's steadiest speaker holds still in 0.25 of its pairs, an espeak-ng voice in 0.36.
  assert.equal(referenceRefusal(analysis(3, 0.36)), null);
  assert.equal(referenceRefusal(analysis(MIN_VOICED_SECONDS + 0.01, null)), null);
  for (const r of [quiet, tone]) assert.doesNotMatch(r?.message ?? '', /\/|\.part|VC_ERR/);
});
