import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aperiodicity, bandBalance, lowPass } from '../../scripts/lib/periodicity.js';

const RATE = 16000;
const SECONDS = 0.5;

/** Sum of the first `count` harmonics of f0 (equal amplitude, phases spread). */
function harmonics(f0: number, count: number, amplitude = 1): Float32Array {
  return Float32Array.from({ length: RATE * SECONDS }, (_, i) => {
    let s = 0;
    for (let k = 1; k <= count; k++) s += Math.sin((2 * Math.PI * k * f0 * i) / RATE + k * k);
    return (amplitude * s) / count;
  });
}
/** Uniform white noise from a fixed linear congruential sequence, so the test is the same every run. */
function noise(amplitude: number): Float32Array {
  let state = 12345;
  return Float32Array.from({ length: RATE * SECONDS }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return amplitude * (state / 2 ** 30 - 1);
  });
}
const add = (a: Float32Array, b: Float32Array) => a.map((v, i) => v + b[i]);
const middle = (v: Float64Array) => {
  const finite = [...v].filter(Number.isFinite).sort((x, y) => x - y);
  return finite[Math.floor(finite.length / 2)];
};
const rms = (v: Float32Array, from: number) =>
  Math.sqrt(v.slice(from).reduce((s, x) => s + x * x, 0) / (v.length - from));

test('aperiodicity: near 0 for a periodic frame, near 1 for noise, in between for a mixture', () => {
  const periodic = middle(aperiodicity(harmonics(150, 10), RATE));
  const random = middle(aperiodicity(noise(1), RATE));
  // Noise at about the harmonics' power: YIN's d' at the period is then about the aperiodic share doubled.
  const mixed = middle(aperiodicity(add(harmonics(150, 10), noise(0.3)), RATE));
  assert.ok(periodic < 0.01, `periodic ${periodic}`);
  assert.ok(random > 0.6, `noise ${random}`);
  assert.ok(mixed > 0.1 && mixed < 0.6, `mixed ${mixed}`);
  // Frames past the end (no full window and lag range left) are NaN, the others finite.
  const frames = aperiodicity(harmonics(150, 10), RATE);
  assert.equal(frames.length, Math.ceil((RATE * SECONDS) / 160));
  assert.ok(Number.isNaN(frames[frames.length - 1]) && Number.isFinite(frames[0]));
});

test('lowPass: passes well below the cut-off, attenuates well above it, with no delay', () => {
  const low = harmonics(200, 1);
  const high = harmonics(4000, 1);
  const passed = lowPass(low, RATE, 1000);
  assert.ok(Math.abs(rms(passed, 1000) / rms(low, 1000) - 1) < 0.02);
  assert.ok(20 * Math.log10(rms(lowPass(high, RATE, 1000), 1000) / rms(high, 1000)) < -40);
  // Zero phase: the 200 Hz tone comes out in place (forward and backward passes).
  const error = passed.slice(1000, 7000).reduce((s, v, i) => Math.max(s, Math.abs(v - low[1000 + i])), 0);
  assert.ok(error < 0.03, `largest difference ${error}`);
});

test('bandBalance: the power above the split against below, in dB', () => {
  const tone = (hz: number, amplitude: number) => harmonics(hz, 1, amplitude);
  const equal = middle(bandBalance(add(tone(300, 1), tone(3000, 1)), RATE, 1000));
  const tilted = middle(bandBalance(add(tone(300, 1), tone(3000, 0.1)), RATE, 1000));
  assert.ok(Math.abs(equal) < 1, `equal ${equal}`);
  assert.ok(Math.abs(tilted + 20) < 1.5, `tilted ${tilted}`);
});
