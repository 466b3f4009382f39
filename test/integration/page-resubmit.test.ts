import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// QA s27: after a conversion the file stayed chosen, and each further press of *Upload and
// convert* uploaded it again (five presses of a 16.8 MB file: five uploads, 80 MB of the quota).

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

test('a converted file is not uploaded again by pressing the button again; *Convert again* reuses its upload', async () => {
  const page = await browser.newPage();
  const uploads: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/uploads') uploads.push(r.url());
  });
  await page.goto(svc.baseUrl);
  await page.locator('#limits:not(:empty)').waitFor();
  // 1. One file, converted.
  await page.setInputFiles('#file', tinyWav(2));
  await page.click('#submit');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  assert.equal(uploads.length, 1);
  // 2. The button pressed again: no second upload, and the page says what to do.
  assert.equal(await page.locator('#file').inputValue(), '', 'the converted file is no longer chosen');
  await page.click('#submit');
  await page.locator('#status.error', { hasText: 'Choose an audio file first.' }).waitFor();
  assert.equal(uploads.length, 1);
  assert.equal(await page.locator('#jobs .job').count(), 1);
  // 3. Convert again: the same upload, other settings, still one upload.
  await page.locator('#jobs .job .job-again').click();
  await page.locator('#kept-upload:not([hidden])').waitFor();
  await page.selectOption('#format', 'flac');
  await page.click('#submit');
  await page.locator('#jobs .job').nth(1).waitFor();
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  assert.equal(uploads.length, 1);
  assert.deepEqual(
    await page.locator('#jobs .job').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-state'))),
    ['completed', 'completed'],
  );
  await page.close();
});
