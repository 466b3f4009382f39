import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resampler } from '../../workers/tasks/resampler.js';

function sine(hz: number, rate: number, n: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));
}

/** Resamples `x` pushed in blocks of the given sizes (cycled), then flushed. */
function run(x: Float32Array, from: number, to: number, sizes: number[] = [x.length]): Float32Array {
  const r = new Resampler(from, to);
  const parts: Float32Array[] = [];
  for (let at = 0, i = 0; at < x.length; i++) {
    const n = sizes[i % sizes.length];
    parts.push(r.push(x.subarray(at, at + n)));
    at += n;
  }
  parts.push(r.end());
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Error of `y` against the ideal sine, in dB below the sine, away from the edges. */
function errorDb(y: Float32Array, hz: number, rate: number, amp = 0.5): number {
  let err = 0;
  let sig = 0;
  for (let i = 200; i < y.length - 200; i++) {
    const ideal = amp * Math.sin((2 * Math.PI * hz * i) / rate);
    err += (y[i] - ideal) ** 2;
    sig += ideal ** 2;
  }
  return 10 * Math.log10(sig / err);
}

function rmsDb(y: Float32Array): number {
  let s = 0;
  for (let i = 200; i < y.length - 200; i++) s += y[i] * y[i];
  return 10 * Math.log10(s / (y.length - 400) + 1e-30);
}

test('n input samples give round(n·out/in) outputs, whatever the block sizes', () => {
  for (const [from, to] of [
    [48000, 24000],
    [44100, 24000],
    [22050, 24000],
    [16000, 24000],
    [8000, 24000],
    [11025, 24000],
  ]) {
    for (const n of [1, 7, 1000, 44_101]) {
      const x = sine(440, from, n);
      const whole = run(x, from, to);
      assert.equal(whole.length, Math.round((n * to) / from), `${from} → ${to}, ${n} samples`);
      const blocks = run(x, from, to, [1, 333, 4096, 17]);
      assert.deepEqual(blocks, whole, `${from} → ${to}: blocks give the same samples`);
    }
  }
});

test('an in-band tone comes through in time and level; a tone above the new Nyquist is removed', () => {
  for (const [from, to] of [
    [48000, 24000],
    [44100, 24000],
    [22050, 24000],
    [16000, 24000],
  ]) {
    const y = run(sine(1000, from, from), from, to, [4096]);
    const snr = errorDb(y, 1000, to);
    assert.ok(snr > 70, `${from} → ${to}: 1 kHz tone ${snr.toFixed(1)} dB above the error`);
  }
  for (const [from, hz] of [
    [48000, 15_000],
    [44100, 14_500],
  ]) {
    const y = run(sine(hz, from, from), from, 24000);
    const level = rmsDb(y) - rmsDb(sine(hz, from, from));
    assert.ok(level < -70, `${hz} Hz from ${from} Hz: ${level.toFixed(1)} dB left (aliasing)`);
  }
});

test('rate pairs with too many phases are refused, so the caller can use ffmpeg', () => {
  assert.equal(Resampler.supports(47_999, 24_000), false);
  assert.throws(() => new Resampler(47_999, 24_000), RangeError);
  assert.equal(Resampler.supports(44_100, 24_000), true);
});
