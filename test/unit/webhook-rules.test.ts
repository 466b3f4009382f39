import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attemptsWithin, isPublicAddress, retryDelay } from '../../src/webhooks/index.js';

test('only public unicast addresses are webhook targets', () => {
  for (const ip of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])
    assert.equal(isPublicAddress(ip), true, ip);
  for (const ip of [
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd12:3456::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not-an-ip',
  ])
    assert.equal(isPublicAddress(ip), false, ip);
});

test('retry delays double up to an hour and the attempts span the retry window', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => retryDelay(10_000, n)),
    [10_000, 20_000, 40_000, 80_000],
  );
  assert.equal(retryDelay(10_000, 30), 3600_000);
  const day = 24 * 3600 * 1000;
  const n = attemptsWithin(10_000, day);
  let total = 0;
  for (let i = 1; i < n; i++) total += retryDelay(10_000, i);
  assert.ok(total <= day && total + retryDelay(10_000, n) > day, `${n} attempts span ${total} ms`);
  // 300 + 600 ms fit in 1 s, a third retry (1200 ms more) would not: three attempts.
  assert.equal(attemptsWithin(300, 1000), 3);
});
