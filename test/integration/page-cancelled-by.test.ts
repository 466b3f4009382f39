import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { launchChromium, pageWithToken } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// A cancelled job's card says who cancelled it, as its detail view does: "cancelled by you" when
// the user did (here, with the card's own Cancel), "cancelled by an operator" when an admin did
// (seen live, with the page open), and both again after a reload.
let svc: TestService;
let browser: Browser;

before(async () => {
  // No worker: the jobs stay queued until cancelled.
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await svc?.close();
});

const card = (page: Page, id: string) => page.locator(`li.job[data-job-id="${id}"]`);
const stateOf = async (page: Page, id: string) =>
  ((await card(page, id).locator('.job-state').textContent()) ?? '').trim();

test("a cancelled job's card says who cancelled it: you, or an operator (live and after a reload)", async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const up = await user.upload(tinyWav(2));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const mine = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 2 });
  const theirs = await user.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    pitchSemitones: 3,
  });

  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  await card(page, mine.id).waitFor();
  await card(page, theirs.id).waitFor();

  // 1. The user cancels one on its card.
  await card(page, mine.id).locator('button.job-cancel').click();
  await card(page, mine.id)
    .locator('.job-state', { hasText: 'cancelled by you' })
    .waitFor({ timeout: 15_000 });

  // 2. An operator cancels the other while the page is open: the live event, then who.
  const cancelled = await adminRequest(svc.baseUrl, 'DELETE', `/api/admin/jobs/${theirs.id}`);
  assert.ok(cancelled.status < 300, JSON.stringify(cancelled.body));
  await card(page, theirs.id)
    .locator('.job-state', { hasText: 'cancelled by an operator' })
    .waitFor({ timeout: 15_000 });

  // 3. After a reload both cards still say who.
  await page.reload();
  await card(page, theirs.id).waitFor();
  assert.equal(await stateOf(page, mine.id), 'cancelled by you');
  assert.equal(await stateOf(page, theirs.id), 'cancelled by an operator');
  await page.context().close();
});
