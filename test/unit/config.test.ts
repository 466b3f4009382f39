import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { parseCpuList } from '../../workers/pool/index.js';

test('defaults apply when the environment is empty', () => {
  const c = loadConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.redisUrl, undefined);
  assert.equal(c.poolSize, 0);
  assert.equal(c.pinThreads, true);
  assert.ok(c.dataDir.endsWith('/data'));
});

test('values are parsed from strings', () => {
  const c = loadConfig({
    PORT: '9000',
    POOL_SIZE: '3',
    PIN_THREADS: 'no',
    REDIS_URL: 'redis://h:1/2',
    LOG_LEVEL: 'debug',
  });
  assert.deepEqual(
    [c.port, c.poolSize, c.pinThreads, c.redisUrl, c.logLevel],
    [9000, 3, false, 'redis://h:1/2', 'debug'],
  );
});

test('each bad value stops start-up with a message naming the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /PORT="eighty": must be integer/],
    [{ PORT: '70000' }, /PORT="70000"/],
    [{ POOL_SIZE: '-1' }, /POOL_SIZE/],
    [{ PIN_THREADS: 'maybe' }, /PIN_THREADS/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ UPLOAD_MAX_BYTES: '10' }, /UPLOAD_MAX_BYTES/],
    [{ WORKER_ID: 'a b' }, /WORKER_ID/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VC_ERR_CONFIG');
        assert.match(err.message, message);
        return true;
      },
    );
  }
});

test('CPU lists parse as the kernel writes them', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList('5\n'), [5]);
});
