import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import type { Json } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';

const run = promisify(execFile);
let svc: TestService;
/** A second web server: its pages are another origin than the API's. */
let site: http.Server;
let sitePort: number;
let browser: Browser;

before(async () => {
  site = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>elsewhere'),
  );
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  sitePort = (site.address() as AddressInfo).port;
  // 127.0.0.1:<port> is listed; localhost:<port>, the same server by another name, is another origin.
  svc = await startService({ workers: 0, env: { CORS_ORIGINS: `http://127.0.0.1:${sitePort}` } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await svc?.close();
  site?.close();
});

/** Sessions stored in Redis (`<prefix>:session:<hash>`). */
async function sessionCount(): Promise<number> {
  const redis = new Redis(svc.redis.url);
  try {
    return (await redis.keys('*:session:*')).length;
  } finally {
    redis.disconnect();
  }
}

/** fetch() from a page of `origin`: the JSON answer, or the browser's error. */
async function fetchFrom(
  origin: string,
  url: string,
  init: RequestInit,
): Promise<{ status?: number; body?: Json; rateLimit?: string | null; error?: string }> {
  const page = await browser.newPage();
  try {
    await page.goto(origin);
    return await page.evaluate(
      async ({ url, init }) => {
        try {
          const res = await fetch(url, init);
          return {
            status: res.status,
            body: await res.json(),
            rateLimit: res.headers.get('x-ratelimit-limit'),
          };
        } catch (err) {
          return { error: String(err) };
        }
      },
      { url, init },
    );
  } finally {
    await page.close();
  }
}

test('Chromium on a listed origin makes a session and reads the API, preflights included', async () => {
  // 1. A simple POST, then a GET with Authorization (preflighted): both answered and readable.
  const origin = `http://127.0.0.1:${sitePort}`;
  const made = await fetchFrom(origin, `${svc.baseUrl}/api/session`, { method: 'POST' });
  assert.equal(made.status, 201, JSON.stringify(made));
  const ws = await fetchFrom(origin, `${svc.baseUrl}/api/workspace`, {
    headers: { authorization: `Bearer ${made.body.token}` },
  });
  assert.equal(ws.status, 200, JSON.stringify(ws));
  assert.equal(ws.body.plan, 'free');
  assert.ok(ws.rateLimit, 'the rate-limit headers are exposed to the page');
  // 2. The JSON error of a refused request reaches the page, not "Failed to fetch".
  const refused = await fetchFrom(origin, `${svc.baseUrl}/api/jobs/nope`, {
    headers: { authorization: 'Bearer wrong' },
  });
  assert.equal(refused.status, 401, JSON.stringify(refused));
  assert.equal(refused.body.error, 'VC_ERR_UNAUTHORIZED');
});

test('another origin: its state-changing request is refused 403 before it does anything; its GETs stay unreadable', async () => {
  const before = await sessionCount();
  // 1. Chromium: the simple POST is sent (no preflight) and refused; the page cannot read why.
  const other = `http://localhost:${sitePort}`;
  const posted = await fetchFrom(other, `${svc.baseUrl}/api/session`, { method: 'POST' });
  assert.match(String(posted.error), /Failed to fetch/);
  // 2. curl, which shows what the server answered: 403 JSON, no CORS headers, no session made.
  const { stdout } = await run('curl', [
    '-s',
    '-i',
    '-X',
    'POST',
    '-H',
    `Origin: ${other}`,
    `${svc.baseUrl}/api/session`,
  ]);
  assert.match(stdout, /^HTTP\/1\.1 403/);
  assert.doesNotMatch(stdout, /access-control-allow-origin/i);
  const body = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4));
  assert.equal(body.error, 'VC_ERR_FORBIDDEN');
  assert.match(body.message, /origin "http:\/\/localhost:\d+" are not allowed here.*CORS_ORIGINS/);
  assert.equal(await sessionCount(), before, 'no session was made');
  // 3. A preflight from it is refused in JSON too; one from the listed origin is answered 204.
  const preflight = (origin: string) =>
    fetch(`${svc.baseUrl}/api/jobs`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
  const no = await preflight(other);
  assert.equal(no.status, 403);
  assert.equal(((await no.json()) as { error: string }).error, 'VC_ERR_FORBIDDEN');
  const yes = await preflight(`http://127.0.0.1:${sitePort}`);
  assert.equal(yes.status, 204);
  assert.equal(yes.headers.get('access-control-allow-origin'), `http://127.0.0.1:${sitePort}`);
  assert.match(String(yes.headers.get('access-control-allow-headers')), /authorization/);
  assert.match(String(yes.headers.get('access-control-allow-methods')), /POST/);
  // 4. A GET from it runs (it changes nothing) but carries no CORS header, so no page can read it.
  const got = await fetch(`${svc.baseUrl}/api/models`, { headers: { origin: other } });
  assert.equal(got.headers.get('access-control-allow-origin'), null);
});

test('the page itself (same origin) still works: its POSTs carry an Origin equal to the API', async () => {
  const page = await browser.newPage();
  try {
    await page.goto(svc.baseUrl);
    const made = await page.evaluate(async () => (await fetch('/api/session', { method: 'POST' })).status);
    assert.equal(made, 201);
  } finally {
    await page.close();
  }
});
