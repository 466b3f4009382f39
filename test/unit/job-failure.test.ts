import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJobFailure, encodeJobFailure, type JobFailure } from '../../src/errors/index.js';

test('a job failure survives the trip through a failedReason, whatever its message holds', () => {
  const failures: JobFailure[] = [
    {
      code: 'VC_ERR_UNDECODABLE_AUDIO',
      message: 'the input could not be decoded: bad header',
      retryable: false,
    },
    {
      code: 'VC_ERR_PIPELINE',
      message: 'VC_ERR_CANCELLED: looks like a code\nsecond line {',
      retryable: true,
    },
    { code: 'VC_ERR_CANCELLED', message: '', retryable: false },
  ];
  for (const f of failures) assert.deepEqual(decodeJobFailure(encodeJobFailure(f)), f);
});

test('reasons that are not ours decode as VC_ERR_INTERNAL with their text; none is undefined', () => {
  assert.equal(decodeJobFailure(undefined), undefined);
  assert.equal(decodeJobFailure(''), undefined);
  assert.deepEqual(decodeJobFailure('job stalled more than allowable limit'), {
    code: 'VC_ERR_INTERNAL',
    message: 'job stalled more than allowable limit',
    retryable: false,
  });
  // JSON that is not a failure shape is text, not a code.
  assert.deepEqual(decodeJobFailure('{"code":"EPIPE","message":"x"}'), {
    code: 'VC_ERR_INTERNAL',
    message: '{"code":"EPIPE","message":"x"}',
    retryable: false,
  });
  assert.equal(decodeJobFailure('{not json')?.code, 'VC_ERR_INTERNAL');
});

test('reasons stored as "CODE: message" before failures were JSON still decode', () => {
  assert.deepEqual(decodeJobFailure('VC_ERR_CANCELLED: cancelled by the user'), {
    code: 'VC_ERR_CANCELLED',
    message: 'cancelled by the user',
    retryable: false,
  });
});
