import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  API_FIXED_NOFILE,
  apiNofileFor,
  loadTiers,
  tierPlan,
  WS_MAX_SOCKETS_CEILING,
  wsMaxSocketsFor,
} from '../../src/deploy/index.js';

const shipped = fileURLToPath(new URL('../../../config/tiers.json', import.meta.url));

test('an API instance gets descriptors for its WebSockets, its requests and a fixed part, at least 1024', () => {
  assert.equal(API_FIXED_NOFILE, 256);
  assert.equal(apiNofileFor({ websockets: 5000, requests: 134 }), 5000 + 134 + 256);
  assert.equal(apiNofileFor({ websockets: 20, requests: 32 }), 1024);
  assert.throws(
    () => apiNofileFor({ websockets: -1, requests: 0 }),
    /websockets must be a whole number, not -1/,
  );
  assert.throws(() => apiNofileFor({ websockets: 1, requests: 0.5 }), /requests must be a whole number/);
});

test('WS_MAX_SOCKETS is what the descriptor limit leaves after requests and the fixed part', () => {
  assert.equal(wsMaxSocketsFor(1024, 32), 1024 - 32 - 256);
  assert.equal(wsMaxSocketsFor(20_000, 134), 20_000 - 134 - 256);
  // The limit an instance is given for its share always holds that share.
  for (const [websockets, requests] of [
    [0, 0],
    [20, 32],
    [5000, 134],
    [99_999, 800],
  ]) {
    const nofile = apiNofileFor({ websockets, requests });
    assert.ok(wsMaxSocketsFor(nofile, requests) >= websockets, `${websockets} ws, ${requests} requests`);
  }
  // The kernel's ceiling is above what the configuration accepts: capped to it.
  assert.equal(wsMaxSocketsFor(1_048_576, 32), WS_MAX_SOCKETS_CEILING);
  // A limit that leaves nothing is refused, naming the numbers.
  assert.throws(
    () => wsMaxSocketsFor(288, 32),
    /limited to 288 file descriptors has none left for WebSockets after 32 requests and 256/,
  );
  assert.equal(wsMaxSocketsFor(289, 32), 1);
});

test("every tier sets WS_MAX_SOCKETS from the API instances' descriptor limit", () => {
  const tiers = loadTiers(shipped);
  const expected: Record<string, [number, number]> = {
    // [LimitNOFILE, WS_MAX_SOCKETS]: 1024 floor less serverMaxconn (32, 40, 67, 100, 134) and 256.
    tiny: [1024, 1024 - 32 - 256],
    small: [1024, 1024 - 40 - 256],
    medium: [1024, 1024 - 67 - 256],
    large: [1024, 1024 - 100 - 256],
    xlarge: [1024, 1024 - 134 - 256],
  };
  for (const [name, [nofile, ws]] of Object.entries(expected)) {
    const plan = tierPlan(tiers, name);
    assert.deepEqual([plan.apiNofile, plan.apiWsMaxSockets], [nofile, ws], name);
    // Each instance's share of every user's WebSockets fits under its cap.
    const share = Math.ceil((plan.maxUsers * plan.wsPerUser) / plan.apiInstances);
    assert.ok(plan.apiWsMaxSockets >= share, `${name}: ${share} WebSockets per instance`);
  }
  // A tier with many users per instance: the limit grows with them and so does the cap.
  const big = structuredClone(tiers);
  big.tiers.xlarge.maxUsers = 20_000;
  const plan = tierPlan(big, 'xlarge');
  const share = Math.ceil((20_000 * 4) / 6);
  assert.equal(plan.apiNofile, share + plan.serverMaxconn + 256);
  assert.equal(plan.apiWsMaxSockets, share);
});
