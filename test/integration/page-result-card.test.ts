import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, Locator } from 'playwright-core';
import { outputPathFor } from '../../src/workspace/index.js';
import { pageWithToken } from '../helpers/browser.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import type { TestService } from '../helpers/service.js';

// A finished job's card in Chromium against a real service: what it offers for the result is safe
// to use (the copyable curl line) and true (nothing is offered for a result that is gone).

let bench: PageBench;
let svc: TestService;
let browser: Browser;
let dir: string;
before(async () => {
  // The sweeper runs every second, as its timer runs it in production every SWEEP_INTERVAL_SEC.
  bench = await startPageBench('page-result-card', { SWEEP_INTERVAL_SEC: '1' });
  ({ svc, browser, dir } = bench);
});
after(async () => {
  await bench?.close();
});

test('the curl line of a result whose upload has a hostile name downloads it when pasted into a shell, and runs nothing else', async () => {
  const hostile = "x'; touch $HOME-PWNED; echo '.wav";
  const user = await ApiClient.anonymous(svc.baseUrl);
  // 1. A finished conversion of an upload named to break out of single quotes.
  const up = await user.uploadBytes(await readFile(espeakSentence('en-us+m3')), hostile);
  assert.equal(up.status, 201);
  assert.equal(up.body.upload.filename, hostile);
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3', pitchSemitones: 2 });
  assert.equal((await user.waitForJobEnd(job.id)).state, 'completed');

  // 2. The card's curl line, as a user copies it.
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const code = page.locator(`.job[data-job-id="${job.id}"] .job-curl code`);
  await code.waitFor({ state: 'attached', timeout: 20_000 });
  const line = (await code.textContent()) ?? '';
  await page.context().close();

  // 3. Pasted into bash in an empty folder, with HOME beside it: it downloads the result to one
  // safely named file, and `touch` never runs.
  const cwd = path.join(dir, 'paste');
  const home = path.join(dir, 'home');
  await mkdir(cwd);
  await mkdir(home);
  // Not execFileSync: the API answers curl from this process.
  await promisify(execFile)('bash', ['-c', line], { cwd, env: { PATH: process.env.PATH, HOME: home } });
  assert.equal(existsSync(`${home}-PWNED`), false, `the pasted line ran touch: ${line}`);
  assert.deepEqual(await readdir(path.dirname(home)).then((l) => l.filter((f) => f.includes('PWNED'))), []);
  const files = await readdir(cwd);
  assert.equal(files.length, 1, `one file downloaded: ${files}`);
  assert.match(files[0], /^[\p{L}\p{N}][\p{L}\p{M}\p{N}._-]*-converted\.mp3$/u);
  const res = await fetch(`${svc.baseUrl}/api/jobs/${job.id}/result`, {
    headers: { authorization: `Bearer ${user.session?.token}` },
  });
  assert.equal(res.status, 200);
  const downloaded = await readFile(path.join(cwd, files[0]));
  assert.ok(downloaded.length > 1000, `${downloaded.length} bytes`);
  assert.ok(downloaded.equals(Buffer.from(await res.arrayBuffer())), 'the file is the result');
});

/** A finished mp3 conversion of a short sentence for `user`. */
async function finishedJob(user: ApiClient): Promise<string> {
  const up = await user.upload(espeakSentence('en-us+f3'));
  assert.equal(up.status, 201);
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3' });
  assert.equal((await user.waitForJobEnd(job.id)).state, 'completed');
  return job.id;
}

/** The job's view from GET /api/jobs/:id and from the list. */
async function views(user: ApiClient, id: string): Promise<Json[]> {
  const one = await user.request('GET', `/api/jobs/${id}`);
  assert.equal(one.status, 200);
  const list = await user.request('GET', '/api/jobs');
  assert.equal(list.status, 200);
  return [one.body.job, (list.body.jobs as Json[]).find((j) => j.id === id)];
}

/** After a load of the page: the card says why the result is gone and offers nothing of it. */
async function assertCardSaysGone(user: ApiClient, id: string, words: RegExp): Promise<void> {
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const card = page.locator(`.job[data-job-id="${id}"]`);
  await card.waitFor({ timeout: 20_000 });
  assert.match((await card.locator('.job-result-gone').textContent({ timeout: 20_000 })) ?? '', words);
  for (const offered of ['audio', '.job-download', '.job-curl', 'button:has-text("Delete result")'])
    assert.equal(await card.locator(offered).count(), 0, `${offered} is offered for a result that is gone`);
  // The detail says so too, with no player for the result.
  await card.locator('.job-details').click();
  await page.getByText(words).nth(1).waitFor({ timeout: 10_000 });
  await page.context().close();
}

test('a deleted result is not offered again: the job view says it was deleted, and so does the page after a reload', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const id = await finishedJob(user);
  for (const view of await views(user, id)) {
    assert.match(view.resultUrl, /sig=/);
    assert.equal(view.resultGone, undefined);
  }
  // 1. Deleted by its owner: 204, then every view says so and offers no link.
  const del = await user.request('DELETE', `/api/jobs/${id}/result`);
  assert.equal(del.status, 204);
  for (const view of await views(user, id)) {
    assert.equal(view.state, 'completed');
    assert.equal(view.resultUrl, null);
    assert.equal(view.resultGone, 'deleted');
  }
  assert.equal((await user.request('GET', `/api/jobs/${id}/result`)).status, 404);
  // 2. Asked again: the same answer, the same view.
  assert.equal((await user.request('DELETE', `/api/jobs/${id}/result`)).status, 204);
  assert.equal((await views(user, id))[0].resultGone, 'deleted');
  // 3. The page, loaded afresh.
  await assertCardSaysGone(user, id, /The result was deleted/);
});

test('a result the sweeper removed at the end of its lifetime reads as expired, in the API and the page', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const id = await finishedJob(user);
  // 1. The result grows older than its plan's lifetime (a day); the service's sweeper removes it.
  const output = outputPathFor(svc.dataDir, user.session?.userId ?? '', id, 'mp3');
  const yearAgo = new Date(Date.now() - 365 * 86_400_000);
  await utimes(output, yearAgo, yearAgo);
  for (let i = 0; existsSync(output); i++) {
    assert.ok(i < 200, 'the sweeper removes the old result');
    await new Promise((r) => setTimeout(r, 100));
  }
  // 2. Every view says it expired (the sweeper records it once the file is gone).
  for (let i = 0; (await views(user, id))[0].resultGone === undefined; i++) {
    assert.ok(i < 50, 'the job records that its result expired');
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const view of await views(user, id)) {
    assert.equal(view.resultUrl, null);
    assert.equal(view.resultGone, 'expired');
  }
  // A job whose result is gone cannot have it "deleted" into another reason.
  assert.equal((await user.request('DELETE', `/api/jobs/${id}/result`)).status, 204);
  assert.equal((await views(user, id))[0].resultGone, 'expired');
  await assertCardSaysGone(user, id, /The result expired/);
});

/** Waits until `card` says why its result is gone and offers nothing of it, without a reload. */
async function assertLiveCardSaysGone(card: Locator, words: RegExp, where: string): Promise<void> {
  await card.locator('.job-result-gone').waitFor({ timeout: 10_000 });
  assert.match((await card.locator('.job-result-gone').textContent()) ?? '', words, where);
  for (const offered of ['audio', '.job-download', '.job-curl', 'button:has-text("Delete result")'])
    assert.equal(await card.locator(offered).count(), 0, `${where}: ${offered} is still offered`);
}

test("a result deleted in one tab, or expired, leaves every open tab's card at once (a live event), as Remove does", async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const deleted = await finishedJob(user);
  const expiring = await finishedJob(user);
  // 1. Two tabs of one session, each showing both results, their sockets live.
  const tab1 = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const tab2 = await tab1.context().newPage();
  const frames: string[] = [];
  tab2.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
  await tab2.goto(svc.baseUrl);
  for (let i = 0; !frames.some((f) => f.includes('"type":"snapshot"')); i++) {
    assert.ok(i < 200, `tab 2's socket is live (its snapshot came): ${frames.length} frames`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const card1 = tab1.locator(`.job[data-job-id="${deleted}"]`);
  const card2 = tab2.locator(`.job[data-job-id="${deleted}"]`);
  await card1.locator('.job-download').waitFor({ timeout: 20_000 });
  await card2.locator('.job-download').waitFor({ timeout: 20_000 });

  // 2. Delete result in tab 1: both cards say so and offer neither player nor download.
  await card1.getByRole('button', { name: /^Delete result of / }).click();
  await assertLiveCardSaysGone(card1, /The result was deleted/, 'the tab that deleted it');
  await assertLiveCardSaysGone(card2, /The result was deleted/, 'the other tab');
  assert.ok(frames.some((f) => f.includes('"type":"resultGone"') && f.includes(deleted)));

  // 3. The sweeper removes the other result at the end of its lifetime: both tabs say it expired.
  const output = outputPathFor(svc.dataDir, user.session?.userId ?? '', expiring, 'mp3');
  const yearAgo = new Date(Date.now() - 365 * 86_400_000);
  await utimes(output, yearAgo, yearAgo);
  for (const tab of [tab1, tab2])
    await assertLiveCardSaysGone(
      tab.locator(`.job[data-job-id="${expiring}"]`),
      /The result expired/,
      'an open tab when the result expired',
    );
  await tab1.context().close();
});
