import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogThrottle } from '../../src/logging/index.js';
import { redisFault } from '../../src/redis/index.js';
import { encoderReason } from '../../workers/tasks/encoded-output.js';

test('LogThrottle lets a repeated message through once per interval and counts what it held back', () => {
  const t = new LogThrottle(5000);
  assert.equal(t.admit('boom', 0), 0);
  for (let i = 1; i <= 9; i++) assert.equal(t.admit('boom', i * 100), undefined);
  assert.equal(t.admit('other', 950), 0, 'another message is not held back by the first');
  assert.equal(t.admit('boom', 5000), 9);
  assert.equal(t.admit('boom', 5001), undefined);
});

test('encoderReason keeps ffmpeg’s reason and drops paths and addresses', () => {
  const stderr =
    '[wav @ 0x5576a1b2c3d0] Error writing trailer: No space left on device | Error opening output file:/srv/data/workspaces/u1/outputs/.j.wav.1.part.';
  const r = encoderReason(stderr, 1);
  assert.match(r, /No space left on device/);
  assert.doesNotMatch(r, /\/|0x5576/);
  assert.equal(encoderReason('', -1), 'the encoder was killed');
  assert.equal(encoderReason('', 1), 'the encoder exited with code 1');
});

test('redisFault names MISCONF, READONLY, OOM and NOREPLICAS, and nothing else', () => {
  assert.equal(redisFault(new Error('MISCONF Redis is configured to save RDB snapshots'))?.code, 'MISCONF');
  assert.equal(
    redisFault(new Error("READONLY You can't write against a read only replica."))?.code,
    'READONLY',
  );
  assert.equal(redisFault(new Error("OOM command not allowed when used memory > 'maxmemory'."))?.code, 'OOM');
  assert.equal(redisFault(new Error('NOREPLICAS Not enough good replicas to write.'))?.code, 'NOREPLICAS');
  assert.equal(redisFault(new Error('connect ECONNREFUSED 127.0.0.1:6379')), undefined);
});
