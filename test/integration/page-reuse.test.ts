import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { humanSpeech } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import { waitUntil } from '../helpers/processes.js';
import type { TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// The page used again and again, as a user does (QA s27):
// - after a conversion the file stayed chosen, and each further press of *Upload and convert*
//   uploaded it again (five presses of a 16.8 MB file: five uploads, 80 MB of the quota);
// - every read of the job list (a filter change, *Show older jobs*, a snapshot) signs each job's
//   links afresh; the page took the new ones, so every player fetched again, the detail's
//   waveforms were drawn again and a result playing in the detail stopped and went back to 0.

let bench: PageBench;
let svc: TestService;
let browser: Browser;
before(async () => {
  bench = await startPageBench('page-reuse');
  ({ svc, browser } = bench);
});
after(async () => {
  await bench?.close();
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

test("the list read again (a filter change) keeps each job's links: the detail's result plays on", async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await page.goto(svc.baseUrl);
  await page.locator('#limits:not(:empty)').waitFor();
  // 1. A conversion of about 22 s of speech, its detail open, its result playing there.
  await page.setInputFiles('#file', humanSpeech(3));
  await page.click('#submit');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  const card = page.locator('#jobs .job').first();
  await card.locator('.job-details').click();
  await card.locator('figure.wave-result[data-ready="true"]').waitFor({ timeout: 60_000 });
  const player = card.locator('figure.wave-result audio');
  await player.evaluate((a) => {
    const el = a as unknown as { muted: boolean; play(): Promise<void> };
    el.muted = true;
    return el.play();
  });
  const state = () =>
    player.evaluate((a) => {
      const el = a as unknown as { currentTime: number; paused: boolean; src: string };
      return { at: el.currentTime, paused: el.paused, src: el.src };
    });
  await waitUntil(async () => (await state()).at > 1, 20_000, 'the result to play past 1 s');
  const before = await state();
  const cardSrc = await card.locator('audio.job-audio').getAttribute('src');
  // 2. The list read again: same links, the player goes on from where it was.
  const reread = page.waitForResponse(
    (r) => r.url().includes('/api/jobs?') && r.url().includes('state=completed'),
  );
  await page.selectOption('#job-filter', 'completed');
  await reread;
  await page.waitForTimeout(500);
  const afterwards = await state();
  assert.equal(afterwards.src, before.src, "the detail's result link is kept");
  assert.equal(
    await card.locator('audio.job-audio').getAttribute('src'),
    cardSrc,
    "the card's player keeps its link",
  );
  assert.equal(afterwards.paused, false, 'still playing');
  assert.ok(afterwards.at >= before.at, `went on from ${before.at} s (now ${afterwards.at} s)`);
  await context.close();
});
