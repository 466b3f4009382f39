import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryAfterMs } from '../../src/client-cli/retry.js';

test('the CLI reads Retry-After as seconds or an HTTP date, bounded to 0..30 s; none or unreadable: no retry', () => {
  assert.equal(retryAfterMs('5'), 5000);
  assert.equal(retryAfterMs('0'), 0);
  assert.equal(retryAfterMs('86400'), 30_000);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:02 GMT', now), 2000);
  assert.equal(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now), 0);
  for (const header of [null, '', ' ', 'later'])
    assert.equal(retryAfterMs(header), undefined, String(header));
});
