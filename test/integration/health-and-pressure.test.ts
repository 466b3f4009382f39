import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
before(async () => {
  // The API runs in this process: keeping this event loop busy overloads it for real.
  svc = await startService({ env: { ADMIN_TOKEN, MAX_EVENT_LOOP_DELAY_MS: '100' } });
});
after(async () => {
  await svc?.close();
});

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${svc.baseUrl}${url}`, { headers });
  return {
    status: res.status,
    body: (await res.json().catch(() => undefined)) as Record<string, unknown>,
    res,
  };
};

test('/health/live answers while the process runs; /health/ready and /health are the same readiness check', async () => {
  const live = await get('/health/live');
  assert.equal(live.status, 200);
  assert.equal(live.body.status, 'live');
  const ready = await get('/health/ready');
  const health = await get('/health');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body, health.body);
  assert.equal(ready.body.redis, 'up');
});

test('an overloaded event loop sheds requests with 503 + Retry-After; liveness and metrics still answer', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  assert.equal((await client.request('GET', '/api/models')).status, 200);

  // 1. Keep the loop busy: 250 ms of work on every turn, so each delay sample is ~250 ms.
  const busy = setInterval(() => {
    const end = Date.now() + 250;
    while (Date.now() < end) {
      // spinning on purpose
    }
  }, 1);
  try {
    // 2. Within a couple of samples the instance is under pressure.
    let shed: Awaited<ReturnType<ApiClient['request']>> | undefined;
    await waitUntil(
      async () => {
        shed = await client.request('GET', '/api/models');
        return shed.status === 503;
      },
      20_000,
      'a shed request',
    );
    assert.equal(shed?.body.error, 'VC_ERR_UNAVAILABLE');
    assert.match(String(shed?.body.message), /overloaded/);
    assert.equal(shed?.headers.get('retry-after'), '5');
    // 3. Readiness says so (HAProxy stops sending); liveness and metrics are not shed.
    const ready = await get('/health/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'overloaded');
    assert.equal((await get('/health')).status, 503);
    assert.equal((await get('/health/live')).status, 200);
    const metrics = await fetch(`${svc.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(metrics.status, 200);
    await metrics.text();
  } finally {
    clearInterval(busy);
  }
  // 4. Once the loop is free again, requests are served again.
  await waitUntil(
    async () => (await client.request('GET', '/api/models')).status === 200,
    20_000,
    'recovery',
  );
  assert.equal((await get('/health/ready')).status, 200);
});
