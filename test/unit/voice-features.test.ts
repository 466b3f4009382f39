import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProfileAccumulator } from '../../workers/engine/profile-accumulator.js';
import {
  CEPSTRUM_BAND_HZ,
  cepstrumEdge,
  cepstrumTable,
  formantTables,
  frameCepstrum,
  frameFormants,
  levinson,
} from '../../workers/engine/voice-features.js';
import { CEPSTRA } from '../../workers/engine/voice-profile.js';
import { accumulatorOptions } from '../helpers/accumulator-options.js';

const SR = 24000;
const BINS = 513;
const HZ_PER_BIN = SR / 1024;

/**
 * Power spectrum of a voiced frame's envelope: a glottal source tilt (-12 dB/octave above 100 Hz) through an
 * all-pole vocal tract with resonances (Hz, bandwidth Hz), sampled on the 513 bins.
 */
function vowel(resonances: [number, number][]): Float32Array {
  return Float32Array.from({ length: BINS }, (_, k) => {
    const w = (2 * Math.PI * k * HZ_PER_BIN) / SR;
    let gain = 1 / (1 + ((k * HZ_PER_BIN) / 100) ** 2);
    for (const [f, bw] of resonances) {
      const r = Math.exp((-Math.PI * bw) / SR);
      const th = (2 * Math.PI * f) / SR;
      // |1 - 2r cos(th) z^-1 + r^2 z^-2|^2 at z = e^{iw}
      const re = 1 - 2 * r * Math.cos(th) * Math.cos(w) + r * r * Math.cos(2 * w);
      const im = 2 * r * Math.cos(th) * Math.sin(w) - r * r * Math.sin(2 * w);
      gain /= re * re + im * im;
    }
    return gain;
  });
}

test('levinson recovers an AR(2) predictor from its autocorrelation and refuses an unstable one', () => {
  // x[n] = 0.9 x[n-1] - 0.5 x[n-2] + e: r[1] = a1 r0 / (1 - a2), r[2] = a1 r1 + a2 r0.
  const [a1, a2] = [0.9, -0.5];
  const r1 = a1 / (1 - a2);
  const r = Float64Array.from([1, r1, a1 * r1 + a2]);
  const a = levinson(r, 2);
  assert.ok(a);
  assert.ok(Math.abs(a[1] + a1) < 1e-12 && Math.abs(a[2] + a2) < 1e-12, `${a}`);
  assert.equal(levinson(Float64Array.from([1, 1.5, 0]), 2), null);
  assert.equal(levinson(Float64Array.from([0, 0, 0]), 2), null);
});

test('frameFormants finds F1..F3 of a synthetic vowel within 3 %, null when there are fewer than three', () => {
  const t = formantTables(BINS, SR);
  for (const formants of [
    [500, 1500, 2500],
    [300, 2300, 3000],
    [700, 1200, 2600],
  ]) {
    const found = frameFormants(vowel(formants.map((f) => [f, 80])), 0, t);
    assert.ok(found, `nothing found for ${formants}`);
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(found[i] / formants[i] - 1) < 0.03, `${formants} -> ${found}`);
    }
  }
  assert.equal(frameFormants(vowel([[1000, 80]]), 0, t), null);
});

test('band cepstra: a flat spectrum has about none (the band edge falls between bins), a cosine ripple gives its one coefficient', () => {
  const table = cepstrumTable(BINS, SR, 0);
  const out = new Float64Array(CEPSTRA);
  frameCepstrum(new Float32Array(BINS).fill(3), 0, BINS, table, out);
  assert.ok(
    out.every((v) => Math.abs(v) < 1e-3),
    `${out}`,
  );
  // ln P = 2 cos(pi * 5 * f / band) in the band: c5 = 1 (E = 2 sum c_q cos), the others about 0.
  const rippled = Float32Array.from({ length: BINS }, (_, k) =>
    Math.exp(2 * Math.cos((Math.PI * 5 * k * HZ_PER_BIN) / CEPSTRUM_BAND_HZ)),
  );
  frameCepstrum(rippled, 0, BINS, table, out);
  assert.ok(Math.abs(out[4] - 1) < 0.02, `c5 = ${out[4]}`);
  for (let q = 0; q < CEPSTRA; q++) if (q !== 4) assert.ok(Math.abs(out[q]) < 0.02, `c${q + 1} = ${out[q]}`);
});

test('band cepstra from 120 Hz: rumble and DC below it change nothing, the held bin stands in for them', () => {
  const voice = vowel([
    [500, 80],
    [1500, 80],
    [2500, 120],
  ]);
  // LibriSpeech 198: about +47 dB at 0 Hz against its 50 Hz-7 kHz mean, falling off by 60 Hz.
  const rumbled = Float32Array.from(voice, (v, k) => v * (k * HZ_PER_BIN < 60 ? 10 ** 4.7 : 1));
  const of = (power: Float32Array, fromHz: number): Float64Array => {
    const out = new Float64Array(CEPSTRA);
    frameCepstrum(power, 0, BINS, cepstrumTable(BINS, SR, fromHz), out, cepstrumEdge(HZ_PER_BIN, fromHz));
    return out;
  };
  const gap = (a: Float64Array, b: Float64Array): number => Math.max(...a.map((v, q) => Math.abs(v - b[q])));
  // The whole band carries the bump into every coefficient; from 120 Hz (bin 6, 140.6 Hz, held) none.
  assert.ok(gap(of(voice, 0), of(rumbled, 0)) > 0.1, `${gap(of(voice, 0), of(rumbled, 0))}`);
  assert.ok(gap(of(voice, 120), of(rumbled, 120)) < 1e-9, `${gap(of(voice, 120), of(rumbled, 120))}`);
  // A spectrum already flat below the edge has the same cepstra by the whole band's table (same floor).
  const edge = cepstrumEdge(HZ_PER_BIN, 120);
  assert.equal(edge, 6);
  const held = Float32Array.from(voice, (v, k) => (k < edge ? voice[edge] : v));
  const whole = new Float64Array(CEPSTRA);
  frameCepstrum(held, 0, BINS, cepstrumTable(BINS, SR, 0), whole, edge);
  assert.ok(gap(whole, of(held, 120)) < 1e-9, `${gap(whole, of(held, 120))}`);
});

function frames(count: number, power: (i: number) => Float32Array, f0: number, voicing: number) {
  const p = new Float32Array(count * BINS);
  for (let i = 0; i < count; i++) p.set(power(i), i * BINS);
  return {
    f0: new Float32Array(count).fill(f0),
    voicing: new Float32Array(count).fill(voicing),
    energy: new Float32Array(count).fill(0.01),
    power: p,
    from: 0,
    to: count,
  };
}

/** The accumulator's options both ProfileAccumulator tests use, and their two vowels. */
const options = accumulatorOptions(BINS);
const VOWEL_A = vowel([
  [500, 80],
  [1500, 80],
  [2500, 100],
]);
const VOWEL_B = vowel([
  [300, 80],
  [2300, 80],
  [3000, 100],
]);

test('ProfileAccumulator: median formants of voiced frames, envelope statistics per class, no codebook, 0s when nothing is voiced', () => {
  const acc = new ProfileAccumulator(options);
  // 20 000 frames (~3.6 min) of two vowels: the profile holds statistics, never frames.
  const a = VOWEL_A;
  const b = VOWEL_B;
  for (let n = 0; n < 20; n++) acc.add(frames(1000, (i) => (i % 4 === 0 ? b : a), 120, 0.95));
  const profile = acc.finish();
  assert.ok(profile.formants);
  assert.ok(Math.abs(profile.formants[0] / 500 - 1) < 0.03, `${profile.formants}`);
  assert.ok(Math.abs(profile.formants[1] / 1500 - 1) < 0.03, `${profile.formants}`);
  // The k-means codebook is no longer computed (nothing read it since the envelope statistics landed).
  assert.equal(profile.codebook, undefined);
  // Envelope statistics (envelope-stats.ts), voiced frames then the others: 2 x 24 means, 2 x 24 x 24 per root.
  assert.equal(profile.envelopeMean?.length, 2 * CEPSTRA);
  assert.equal(profile.envelopeRoot?.length, 2 * CEPSTRA * CEPSTRA);
  assert.equal(profile.envelopeInverseRoot?.length, 2 * CEPSTRA * CEPSTRA);
  // All frames here are voiced: the voiced mean is a's and b's (3 : 1); the unvoiced class, empty, takes
  // all frames' statistics (the same).
  const cepOf = (power: Float32Array): Float64Array => {
    const out = new Float64Array(CEPSTRA);
    frameCepstrum(power, 0, BINS, cepstrumTable(BINS, SR, 0), out);
    return out;
  };
  const [ca, cb] = [cepOf(a), cepOf(b)];
  for (let q = 0; q < CEPSTRA; q++) {
    const expected = 0.75 * ca[q] + 0.25 * cb[q];
    assert.ok(Math.abs(profile.envelopeMean[q] - expected) < 1e-3, `c${q + 1}: ${profile.envelopeMean[q]}`);
    assert.equal(profile.envelopeMean[CEPSTRA + q], profile.envelopeMean[q]);
  }
  // The two classes' roots (~23 KB) and the rest keep a profile under 32 KB of JSON (the codebook took 12 KB more).
  assert.ok(JSON.stringify(profile).length < 32_000, `profile JSON ${JSON.stringify(profile).length} B`);

  const silent = new ProfileAccumulator(options);
  silent.add(frames(50, () => a, 0, 0));
  const p = silent.finish();
  assert.deepEqual(p.formants, [0, 0, 0]);
  assert.equal(p.f0Median, null);

  const measuring = new ProfileAccumulator({ ...options, details: 'none' });
  measuring.add(frames(50, () => a, 120, 0.95));
  const m = measuring.finish();
  assert.equal(m.formants, undefined);
  assert.equal(m.envelopeMean, undefined);
});

test('ProfileAccumulator: F0 statistics count frames at f0VoicingThreshold, formants and envelope classes at voicingThreshold', () => {
  // 300 clearly voiced frames of a at 120 Hz, 200 weakly voiced (0.77) frames of b at 90 Hz (a creaky phrase end).
  const feed = (acc: ProfileAccumulator): void => {
    acc.add(frames(300, () => VOWEL_A, 120, 0.95));
    acc.add(frames(200, () => VOWEL_B, 90, 0.77));
  };
  const strict = new ProfileAccumulator(options);
  feed(strict);
  const lenient = new ProfileAccumulator({ ...options, f0VoicingThreshold: 0.75 });
  feed(lenient);
  const [s, l] = [strict.finish(), lenient.finish()];
  // At 0.8 only the 120 Hz frames count; at 0.75 the 90 Hz ones too (200 of 500: P10 falls to 90 Hz).
  assert.ok(s.f0Median !== null && Math.abs(s.f0Median / 120 - 1) < 0.005, `${s.f0Median}`);
  assert.ok(s.f0P10 !== null && Math.abs(s.f0P10 / 120 - 1) < 0.005, `${s.f0P10}`);
  assert.ok(l.f0P10 !== null && Math.abs(l.f0P10 / 90 - 1) < 0.005, `${l.f0P10}`);
  assert.ok(l.f0Median !== null && Math.abs(l.f0Median / 120 - 1) < 0.005, `${l.f0Median}`);
  assert.equal(s.voicedSeconds, Number(((300 * 256) / SR).toFixed(3)));
  assert.equal(l.voicedSeconds, Number(((500 * 256) / SR).toFixed(3)));
  // Formants and the envelope statistics do not move: the weak frames stay in the unvoiced class either way.
  assert.deepEqual(l.formants, s.formants);
  assert.deepEqual(l.envelopeMean, s.envelopeMean);
  assert.deepEqual(l.envelopeFrames, s.envelopeFrames);
});
