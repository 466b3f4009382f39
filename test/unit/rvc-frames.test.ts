import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coarsePitch, frameNoise } from '../../workers/engine/index.js';

test("coarse pitch bins follow RVC's mel formula (values from numpy on RVC's own expression)", () => {
  // 1127*ln(1 + f/700) mapped from [mel(50), mel(1100)] onto 1..255, np.rint, clipped; 0 Hz is unvoiced.
  const expected: [number, number][] = [
    [0, 1],
    [50, 1],
    [100, 20],
    [200, 54],
    [440, 122],
    [1100, 255],
    [2000, 255],
  ];
  for (const [hz, bin] of expected) assert.equal(coarsePitch(hz), bin, `${hz} Hz`);
  let previous = 0;
  for (let hz = 0; hz <= 1200; hz += 0.5) {
    const bin = coarsePitch(hz);
    assert.ok(Number.isInteger(bin) && bin >= 1 && bin <= 255 && bin >= previous, `${hz} Hz -> ${bin}`);
    previous = bin;
  }
});

test('frame noise is standard normal and a pure function of (seed, frame, channel)', () => {
  const values: number[] = [];
  for (let frame = -50; frame < 450; frame++) {
    for (let channel = 0; channel < 192; channel++) values.push(frameNoise(7, frame, channel));
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
  const beyond2 = values.filter((v) => Math.abs(v) > 2).length / values.length;
  assert.ok(Math.abs(beyond2 - 0.0455) < 0.004, `P(|x| > 2) = ${beyond2}`);
  assert.equal(frameNoise(7, 12, 3), frameNoise(7, 12, 3));
  assert.notEqual(frameNoise(7, 12, 3), frameNoise(8, 12, 3));
  assert.notEqual(frameNoise(7, 12, 3), frameNoise(7, 13, 3));
  // Neighbouring frames and channels are uncorrelated.
  let lag = 0;
  for (let i = 0; i + 192 < values.length; i++) lag += values[i] * values[i + 192];
  assert.ok(Math.abs(lag / values.length) < 0.01, `frame-lag correlation ${lag / values.length}`);
});
