import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { FairShare } from '../../src/queue/core.js';
import { redisScript } from '../../src/redis/core.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// The service's Lua scripts (fair share, usage ledger, upload slots, rate-limit refunds, event log,
// locks and leases) go to Redis by SHA1 once it has them, and in full only where it has not: a real
// redis-server's command counters show which was sent.

let server: TestRedis;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { lazyConnect: true });
  await redis.connect();
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** Calls of `eval` and `evalsha` so far, from INFO commandstats. */
async function calls(): Promise<{ eval: number; evalsha: number }> {
  const info = await redis.info('commandstats');
  const count = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return { eval: count('eval'), evalsha: count('evalsha') };
}

test('a script is sent in full once, then by its SHA1, and again in full after Redis lost its cache', async () => {
  const incr = redisScript('vcfarmTestIncrBy', `return redis.call('INCRBY', KEYS[1], ARGV[1])`);
  const before = await calls();
  assert.equal(await incr(redis, ['n'], [2]), 2);
  const first = await calls();
  for (let i = 0; i < 5; i++) await incr(redis, ['n'], [1]);
  const later = await calls();
  assert.equal(later.eval - first.eval, 0, 'no call after the first sends the script body');
  assert.equal(later.evalsha - first.evalsha, 5);
  assert.ok(first.eval - before.eval <= 1);

  // A restarted or failed-over Redis has no scripts: the call still succeeds, by EVAL once.
  await redis.script('FLUSH');
  assert.equal(await incr(redis, ['n'], [10]), 17);
  const flushed = await calls();
  assert.equal(flushed.eval - later.eval, 1);
  assert.equal(await incr(redis, ['n'], [1]), 18);
  assert.equal((await calls()).eval, flushed.eval);
});

test('keys may vary in number per call', async () => {
  const count = redisScript('vcfarmTestKeyCount', 'return #KEYS');
  assert.equal(await count(redis, ['a'], []), 1);
  assert.equal(await count(redis, ['a', 'b'], []), 2);
});

test("fair share's admission goes by SHA1 after its first call", async () => {
  const fair = new FairShare(redis, 'vcfarm-scripts');
  await fair.admit('u1', 'job-1', 10);
  const first = await calls();
  for (let i = 2; i <= 6; i++) await fair.admit('u1', `job-${i}`, 10);
  const later = await calls();
  assert.equal(later.eval, first.eval);
  assert.equal(later.evalsha - first.evalsha, 5);
  assert.equal(await fair.queuedCount('u1'), 6);
});
