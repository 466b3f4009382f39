import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { assertAccessible, launchChromium } from '../helpers/browser.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
let browser: Browser;
before(async () => {
  svc = await startService({ workers: 1 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await svc?.close();
});

test('the page uploads a file, shows progress reaching 100% and plays the result', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(svc.baseUrl);

  // 1. The page creates an anonymous session on its own and keeps the token.
  type PageGlobals = { localStorage: { getItem(key: string): string | null } };
  const token = () =>
    page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('vcfarm.token'));
  for (let i = 0; i < 100 && (await token()) === null; i++) await new Promise((r) => setTimeout(r, 100));
  assert.notEqual(await token(), null);

  // 2. Clone a voice from a reference recording; it appears in the menu once analysed.
  const reference = espeakSentence(
    'en-us+f3',
    'Hello, this is my reference voice. I am reading a few sentences so that the service can learn how I sound.',
  );
  await page.fill('#voice-name', 'My bright voice');
  await page.setInputFiles('#voice-file', reference);
  await page.click('#clone-submit');
  const option = page.locator('#voice option:not([disabled])', { hasText: 'My bright voice' });
  await option.waitFor({ state: 'attached', timeout: 30_000 });
  assert.match(
    (await page.locator('#voice option[value="preset-espeak-m3"]').textContent()) ?? '',
    /^Preset: \w+ — /,
  );

  // 3. Pick a file, the cloned voice and a format, submit.
  const source = espeakSentence('en-us+m3');
  await page.setInputFiles('#file', source);
  await page.selectOption('#voice', { value: (await option.getAttribute('value')) ?? '' });
  await page.selectOption('#format', 'ogg');
  await page.fill('#pitch', '2');
  await page.click('#submit');

  // 4. The job appears, its progress bar reaches 1, and an audio element gets the result.
  // The conversion's card (the clone has one too, and finishes first).
  const job = page.locator('.job[data-kind="convert"]').first();
  await job.waitFor();
  // Locators, not string predicates: the page's Content-Security-Policy forbids eval, as it should.
  await job.locator('progress[value="1"]').waitFor({ timeout: 60_000 });
  await page.locator('.job[data-kind="convert"][data-state="completed"]').waitFor();
  await job.locator('audio[src]').waitFor({ timeout: 10_000 });
  const src = await job.locator('audio').getAttribute('src', { timeout: 10_000 });
  // A signed link the browser streams from (test/integration/page.test.ts covers it in depth).
  assert.match(src ?? '', /^\/api\/jobs\/[0-9a-f-]{36}\/result\?exp=\d+&sig=[\w-]+$/);
  // The browser can decode what it was given: the audio element knows its duration.
  const audioDuration = () =>
    job.locator('audio').evaluate((a) => (a as unknown as { duration: number }).duration);
  let duration = await audioDuration();
  for (let i = 0; i < 100 && !(duration > 0 && duration < 1e6); i++) {
    await new Promise((r) => setTimeout(r, 100));
    duration = await audioDuration();
  }
  assert.ok(duration > 1, `audio duration ${duration}`);
  assert.equal(
    await job.locator('.job-download').getAttribute('download'),
    `${path.basename(source, '.wav')}-converted.ogg`,
  );
  assert.deepEqual(errors, []);
  await assertAccessible(page, 'a result playing');
  await page.screenshot({ path: `${process.env.TMPDIR ?? '/tmp'}/vcfarm-browser-test.png` });
});
