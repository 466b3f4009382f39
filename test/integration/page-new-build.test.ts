import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../src/config/index.js';
import { WEB_ROOT } from '../../src/page/index.js';
import { buildServer } from '../../src/server.js';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { launchChromium, pageWithToken } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';

// A page left open across a deploy talks to an API of another build (a route it knows may have
// moved). The old build is the test's service; the new one a second API instance on the same Redis
// serving a copy of the pages with one byte more; a TCP proxy in front plays the load balancer that
// the deploy switches over.

let svc: TestService;
let newPages: string;
let deployed: FastifyInstance;
let deployedUrl: string;
let browser: Browser;
/** The builds of the two instances, as GET /api/version says. */
let oldBuild: string;
let newBuild: string;
const buildOf = async (url: string) =>
  ((await (await fetch(`${url}/api/version`)).json()) as { build: string }).build;
before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  newPages = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-pages-'));
  await cp(WEB_ROOT, newPages, { recursive: true });
  const index = path.join(newPages, 'index.html');
  await writeFile(index, `${await readFile(index, 'utf8')}<!-- the next build -->\n`);
  const config = loadConfig({ ...svc.env, LOG_LEVEL: 'silent' });
  deployed = await buildServer(config, svc.redis.url, pino({ level: 'silent' }), { pages: newPages });
  deployedUrl = await deployed.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
  oldBuild = await buildOf(svc.baseUrl);
  newBuild = await buildOf(deployedUrl);
});
after(async () => {
  await browser?.close();
  await deployed?.close();
  await svc?.close();
  if (newPages) await rm(newPages, { recursive: true, force: true });
});

/** A TCP proxy whose target can be switched, cutting the connections it had (or all but WebSockets). */
async function switchingProxy(target: string) {
  let port = Number(new URL(target).port);
  const conns = new Set<{ client: net.Socket; upstream: net.Socket; ws: boolean }>();
  const end = (c: { client: net.Socket; upstream: net.Socket }) => {
    c.client.destroy();
    c.upstream.destroy();
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const c = { client, upstream, ws: false };
    conns.add(c);
    client.once('data', (first: Buffer) => {
      c.ws = /^upgrade: websocket/im.test(first.toString('latin1'));
    });
    client.pipe(upstream);
    upstream.pipe(client);
    for (const s of [client, upstream]) {
      s.on('error', () => end(c));
      s.on('close', () => {
        end(c);
        conns.delete(c);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    /** New connections go to `to`; the old ones are cut (WebSockets too unless `keepSockets`). */
    switchTo(to: string, keepSockets = false) {
      port = Number(new URL(to).port);
      for (const c of conns) if (!(keepSockets && c.ws)) end(c);
    },
    async close() {
      for (const c of conns) end(c);
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('every answer names its build, and GET /api/version says it; the page carries its own', async () => {
  assert.notEqual(oldBuild, newBuild);
  assert.match(oldBuild, /^[0-9a-f]{16}$/);
  for (const [url, build] of [
    [svc.baseUrl, oldBuild],
    [deployedUrl, newBuild],
  ]) {
    const res = await fetch(`${url}/api/version`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { build });
    // Other answers name it too, errors included.
    const refused = await fetch(`${url}/api/jobs`);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('x-vcfarm-build'), build);
    assert.equal(res.headers.get('x-vcfarm-build'), build);
    const page = await fetch(`${url}/`);
    assert.equal(page.headers.get('x-vcfarm-build'), build);
    assert.match(await page.text(), new RegExp(`<meta name="vcfarm-build" content="${build}">`));
  }
});

test('a page open across a deploy says a new version is available on its next answer, and Reload loads it', async () => {
  const proxy = await switchingProxy(svc.baseUrl);
  try {
    const { session } = await ApiClient.anonymous(svc.baseUrl);
    const page = await pageWithToken(browser, proxy.url, session?.token ?? '');
    await page.locator('#usage').waitFor();
    const meta = page.locator('meta[name="vcfarm-build"]');
    assert.equal(await meta.getAttribute('content'), oldBuild);
    assert.equal(await page.locator('#new-version').count(), 0, 'no notice while the builds agree');
    // 1. The deploy: requests now reach the new build; the page's WebSocket stays on the old one.
    proxy.switchTo(deployedUrl, true);
    // 2. The user's next action is answered by the new build: the page says so.
    await page.selectOption('#job-filter', 'completed');
    const notice = page.locator('#new-version');
    await notice.waitFor({ timeout: 20_000 });
    assert.match((await notice.textContent()) ?? '', /A new version of vcfarm is available/);
    // 3. Reload: the page of the new build, with no notice.
    await notice.getByRole('button', { name: 'Reload' }).click();
    await page.locator(`meta[name="vcfarm-build"][content="${newBuild}"]`).waitFor({ state: 'attached' });
    await page.locator('#usage').waitFor();
    assert.equal(await page.locator('#new-version').count(), 0);
    await page.context().close();
  } finally {
    await proxy.close();
  }
});

test('a page whose WebSocket comes back from a deploy says so without any action', async () => {
  const proxy = await switchingProxy(svc.baseUrl);
  try {
    const { session } = await ApiClient.anonymous(svc.baseUrl);
    const page = await pageWithToken(browser, proxy.url, session?.token ?? '');
    await page.locator('#usage').waitFor();
    assert.equal(await page.locator('#new-version').count(), 0);
    // The deploy cuts every connection, the WebSocket too; the page reconnects to the new build.
    proxy.switchTo(deployedUrl);
    await page.locator('#new-version').waitFor({ timeout: 20_000 });
    await page.context().close();
  } finally {
    await proxy.close();
  }
});

test('the admin dashboard, reading every second, says so after a deploy', async () => {
  const proxy = await switchingProxy(svc.baseUrl);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${proxy.url}/admin`);
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.locator('#controls').waitFor();
    assert.equal(await page.locator('#new-version').count(), 0);
    proxy.switchTo(deployedUrl);
    await page.locator('#new-version').waitFor({ timeout: 20_000 });
    await context.close();
  } finally {
    await proxy.close();
  }
});
