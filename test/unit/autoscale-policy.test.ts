import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AutoscaleInput, decideAutoscale } from '../../src/scaling/index.js';

const base: AutoscaleInput = {
  now: 100_000,
  size: 1,
  busy: 1,
  waiting: 5,
  cores: 4,
  min: 1,
  max: 3,
  idleSince: undefined,
  lastChangeAt: 0,
  idleMs: 10_000,
  cooldownMs: 1000,
};

test('grows when jobs wait, every thread is busy and cores are free, up to max', () => {
  assert.equal(decideAutoscale(base)?.size, 3);
  assert.equal(decideAutoscale({ ...base, waiting: 1 })?.size, 2);
  assert.equal(
    decideAutoscale({ ...base, busy: 0, idleSince: 99_000 }),
    undefined,
    'idle threads: no growth',
  );
  assert.equal(decideAutoscale({ ...base, size: 3, busy: 3 }), undefined, 'at max');
  assert.equal(decideAutoscale({ ...base, cores: 1 }), undefined, 'no free core');
});

test('shrinks after the idle period, never below min', () => {
  const idle = { ...base, size: 3, busy: 1, waiting: 0, idleSince: 80_000 };
  assert.deepEqual(decideAutoscale(idle)?.size, 1);
  assert.equal(decideAutoscale({ ...idle, idleSince: 95_000 }), undefined, 'not idle long enough');
  assert.equal(decideAutoscale({ ...idle, busy: 0, min: 2 })?.size, 2);
});

test('respects the cool-down and brings an out-of-bounds size back at once', () => {
  assert.equal(decideAutoscale({ ...base, lastChangeAt: 99_500 }), undefined);
  assert.equal(decideAutoscale({ ...base, size: 5, lastChangeAt: 99_900 })?.size, 3);
  assert.equal(decideAutoscale({ ...base, size: 0, min: 1, lastChangeAt: 99_900 })?.size, 1);
});
