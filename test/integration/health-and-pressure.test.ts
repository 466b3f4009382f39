import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { launchChromium, pageWithToken } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { waitUntil } from '../helpers/processes.js';
import { CLI, startService, type TestService } from '../helpers/service.js';

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
  client.retryShed = false; // this test is about the shed answer itself
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

/** Keeps this process's event loop (the API's) busy: 250 ms of work on every turn. Returns the stop. */
function overload(): () => void {
  const busy = setInterval(() => {
    const end = Date.now() + 250;
    while (Date.now() < end) {
      // spinning on purpose
    }
  }, 1);
  return () => clearInterval(busy);
}

/** Waits until a request of this user is shed (503 + Retry-After), asked without any retry. */
async function untilShed(token: string): Promise<void> {
  await waitUntil(
    async () => {
      const res = await fetch(`${svc.baseUrl}/api/models`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      return res.status === 503 && res.headers.get('retry-after') !== null;
    },
    20_000,
    'a shed request',
  );
}

test('the page and the CLI wait out a shed request (503 + Retry-After) and are served once the load is gone', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const token = client.session?.token ?? '';
  const browser = await launchChromium();
  try {
    // 1. The page, loaded while the instance is idle; then its job filter asks the API while it sheds.
    const page = await pageWithToken(browser, svc.baseUrl, token);
    await page.locator('#usage').waitFor();
    const answers: { url: string; status: number }[] = [];
    page.on('response', (r) => answers.push({ url: r.url(), status: r.status() }));
    const filtered = (status: number) =>
      answers.some((a) => a.status === status && /\/api\/jobs\?.*state=completed/.test(a.url));
    let stop = overload();
    try {
      await untilShed(token);
      await page.selectOption('#job-filter', 'completed');
      await waitUntil(async () => filtered(503), 20_000, "the page's shed request");
    } finally {
      stop();
    }
    // Retry-After says 5 s: the page asks again then, and is served.
    await waitUntil(async () => filtered(200), 30_000, "the page's request asked again and served");
    assert.equal(await page.locator('main > .error[role="alert"]').count(), 0, 'no error shown');
    await page.context().close();

    // 2. The CLI, started while the instance sheds: it says it waits, then lists the voices.
    stop = overload();
    let stderr = '';
    let stdout = '';
    let exited: Promise<number | null> | undefined;
    try {
      await untilShed(token);
      const child = spawn(process.execPath, [CLI, 'voices', 'list'], {
        env: { ...process.env, VCFARM_URL: svc.baseUrl, VCFARM_API_KEY: token },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (b: Buffer) => {
        stdout += b;
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b;
      });
      exited = new Promise((resolve) => child.once('close', resolve));
      await waitUntil(
        async () => /HTTP 503\); retrying in 5 s \(1 of 3\)/.test(stderr),
        30_000,
        'the CLI waiting',
      );
    } finally {
      stop();
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /preset/, 'the voices listed once served');
  } finally {
    await browser.close();
  }
});

test('the admin dashboard waits out a shed request (503 + Retry-After) and shows the answer once served', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const browser = await launchChromium();
  try {
    // 1. The dashboard, opened while the instance is idle.
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${svc.baseUrl}/admin`);
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.locator('#cancel-job-id').waitFor();
    const jobId = 'no-such-job-0001';
    const cancels: number[] = [];
    page.on('response', (r) => {
      if (r.request().method() === 'DELETE' && r.url().endsWith(`/api/admin/jobs/${jobId}`))
        cancels.push(r.status());
    });
    // 2. A cancel sent while the instance sheds is answered 503 + Retry-After...
    const stop = overload();
    try {
      await untilShed(client.session?.token ?? '');
      await page.fill('#cancel-job-id', jobId);
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await waitUntil(async () => cancels.includes(503), 20_000, "the dashboard's shed cancel");
    } finally {
      stop();
    }
    // 3. ...and the same request is sent again after Retry-After (5 s) and served: the line shows
    // the served answer (no such job), never the shed one.
    await waitUntil(async () => cancels.includes(404), 30_000, 'the cancel asked again and served');
    assert.equal(cancels.at(-1), 404, `answers: ${cancels}`);
    assert.ok(cancels.length <= 4, `at most 3 retries: ${cancels}`);
    const line = page.locator('#cancel-status');
    await line.filter({ hasText: /not found/i }).waitFor();
    assert.doesNotMatch((await line.textContent()) ?? '', /overloaded|503/);
    await context.close();
  } finally {
    await browser.close();
  }
});
