import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../src/config/index.js';
import { buildServer } from '../../src/server.js';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { assertAccessible, launchChromium } from '../helpers/browser.js';
import { startService, type TestService } from '../helpers/service.js';

// The page with API keys: under AUTH_MODE=keys it asks for one (there is no anonymous session to
// fall back on), and in open mode a stored key that stopped working is never swapped for a new
// anonymous workspace behind the user's back. Both instances share one Redis, so one account
// and its key serve both. No conversion runs here: no worker.
let svc: TestService;
let keys: FastifyInstance;
let keysUrl: string;
let browser: Browser;
before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  keys = await buildServer(
    loadConfig({ ...svc.env, AUTH_MODE: 'keys', LOG_LEVEL: 'silent' }),
    svc.redis.url,
    pino({ level: 'silent' }),
  );
  keysUrl = await keys.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await keys?.close();
  await svc?.close();
});

async function newAccount(name: string): Promise<{ id: string; apiKey: string }> {
  const made = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', { name, plan: 'pro' });
  assert.equal(made.status, 201);
  return { id: made.body.user.id, apiKey: made.body.apiKey };
}

/** The page's localStorage (the tests' TypeScript has no DOM types). */
type Storage = { localStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void } };
const stored = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as Storage).localStorage.getItem('vcfarm.token'));

test('AUTH_MODE=keys: the page asks for an API key, refuses a wrong one, and works with a right one', async () => {
  const { apiKey } = await newAccount('keys-mode-user');
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(keysUrl);
  // 1. No token, no anonymous sessions here: the key form, open, says why; no conversion form.
  await page.locator('#key-reason').waitFor();
  assert.match((await page.locator('#key-reason').textContent()) ?? '', /accepts API keys only/);
  assert.equal(await page.locator('#key-form').getAttribute('open'), '');
  assert.equal(await page.locator('#convert-form').count(), 0);
  assert.equal(await page.locator('#start-anonymous').count(), 0);
  await assertAccessible(page, 'key form');
  // 2. A wrong key: said so, nothing stored.
  await page.fill('#api-key', 'vck_not-a-key');
  await page.click('#api-key-submit');
  await page.locator('#key-problem').waitFor();
  assert.match((await page.locator('#key-problem').textContent()) ?? '', /refused/);
  assert.equal(await stored(page), null);
  // 3. The account's key: stored, the page reloads as that account with the forms and presets.
  await page.fill('#api-key', apiKey);
  await page.click('#api-key-submit');
  await page.locator('#voice option', { hasText: 'Preset' }).first().waitFor({ state: 'attached' });
  await page.locator('#usage').waitFor();
  assert.equal(await stored(page), apiKey);
  assert.equal(await page.locator('#key-reason').count(), 0);
  assert.equal(await page.locator('#key-form').getAttribute('open'), null);
  await context.close();
});

test('open mode: a stored key that was rotated is said to be refused, kept, and never replaced by an anonymous workspace', async () => {
  const account = await newAccount('rotated-user');
  // The key put in localStorage once (not by an init script, which would put it back at each load).
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${svc.baseUrl}/api/health`);
  await page.evaluate(
    (k) => (globalThis as unknown as Storage).localStorage.setItem('vcfarm.token', k),
    account.apiKey,
  );
  await page.goto(svc.baseUrl);
  await page.locator('#usage').waitFor();
  // 1. The admin rotates the key; the page is reloaded.
  const rotated = await adminRequest(svc.baseUrl, 'POST', `/api/admin/users/${account.id}/keys`);
  assert.equal(rotated.status, 201);
  const newKey = rotated.body.apiKey as string;
  await page.reload();
  // 2. Why, in words; the forms are gone; the old key is still what is stored (not a new session).
  await page.locator('#key-reason').waitFor();
  assert.match(
    (await page.locator('#key-reason').textContent()) ?? '',
    /API key stored in this browser was refused/,
  );
  assert.equal(await page.locator('#convert-form').count(), 0);
  assert.equal(await stored(page), account.apiKey);
  await page.waitForTimeout(1000);
  assert.equal(await stored(page), account.apiKey, 'no anonymous session replaced the key');
  // 3. The new key brings the account back.
  await page.fill('#api-key', newKey);
  await page.click('#api-key-submit');
  await page.locator('#usage').waitFor();
  assert.equal(await page.locator('#key-reason').count(), 0);
  await page.context().close();
});
