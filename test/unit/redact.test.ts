import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../../src/logging/index.js';

test('every credential in a query string is redacted; the route and the rest of the query stay', () => {
  assert.equal(
    redactUrl('/api/jobs/j1/result?exp=1700000000&sig=0123abcd'),
    '/api/jobs/j1/result?exp=1700000000&sig=[redacted]',
  );
  assert.equal(
    redactUrl('/api/uploads/u1/audio?user=u_1&exp=17&sig=ab'),
    '/api/uploads/u1/audio?user=u_1&exp=17&sig=[redacted]',
  );
  assert.equal(
    redactUrl('/api/voices/preset-a/preview?model=default&user=u_1&exp=17&sig=ab&partial=1'),
    '/api/voices/preset-a/preview?model=default&user=u_1&exp=17&sig=[redacted]&partial=1',
  );
  assert.equal(redactUrl('/api/ws?token=vck_x&lastEventId=1-0'), '/api/ws?token=[redacted]&lastEventId=1-0');
  // However the name is spelled or encoded, and however often it comes.
  assert.equal(
    redactUrl('/x?SIG=a&%73ig=b&sig=c&sig'),
    '/x?SIG=[redacted]&%73ig=[redacted]&sig=[redacted]&sig=[redacted]',
  );
  assert.equal(redactUrl('/x?api_key=k&access_token=t'), '/x?api_key=[redacted]&access_token=[redacted]');
  assert.equal(redactUrl('/api/jobs?limit=5&state=completed'), '/api/jobs?limit=5&state=completed');
  assert.equal(redactUrl('/api/jobs'), '/api/jobs');
});
