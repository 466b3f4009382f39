import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { pageWithToken } from '../helpers/browser.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import { waitUntil } from '../helpers/processes.js';
import { multipartBody, multipartPost } from '../helpers/raw-http.js';
import type { TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// F10 (session 28): an upload whose answer the page never got (the connection dropped after the
// server stored it, or the tab was closed) was in the workspace, counted against the quota, yet
// shown nowhere and deletable by no one until the sweeper's TTL. The page now lists the
// workspace's uploads from the server (on load, when jobs change, after a failed upload), each
// with *Convert* and *Delete*. An upload cut short leaves nothing behind (the intake removes it).

let bench: PageBench;
let svc: TestService;
let browser: Browser;
before(async () => {
  bench = await startPageBench('page-uploads');
  ({ svc, browser } = bench);
});
after(async () => {
  await bench?.close();
});

const serverUploads = async (user: ApiClient): Promise<Json[]> =>
  ((await user.request('GET', '/api/workspace')).body.files as Json[]).filter((f) => f.kind === 'upload');

const listed = (page: Page) =>
  page.locator('#uploads .upload').evaluateAll((items) => items.map((i) => i.getAttribute('data-upload-id')));

test('an upload whose answer was lost is listed from the server at once, and deleted from the list', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  await page.locator('#uploads-section', { hasText: 'No uploaded files.' }).waitFor();
  // 1. The upload reaches the API and is stored (201), but its answer never reaches the page: failed
  //    at the response stage by the DevTools protocol, as a connection dropped after the server answered.
  const stored: string[] = [];
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/api/uploads', requestStage: 'Response' }] });
  cdp.on('Fetch.requestPaused', (paused) => {
    const { requestId } = paused;
    void (async () => {
      if (paused.request.method === 'POST' && paused.responseStatusCode === 201) {
        const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId });
        stored.push(JSON.parse(base64Encoded ? Buffer.from(body, 'base64').toString() : body).upload.id);
        await cdp.send('Fetch.failRequest', { requestId, errorReason: 'ConnectionReset' });
      } else await cdp.send('Fetch.continueRequest', { requestId });
    })();
  });
  await page.setInputFiles('#file', tinyWav(2));
  await page.click('#submit');
  await page.locator('#status.error', { hasText: 'got no answer (network error)' }).waitFor();
  assert.equal(stored.length, 1, 'the server stored the upload');
  // 2. The page read the workspace again: the stored upload is listed, by its name, with no job.
  const item = page.locator(`#uploads .upload[data-upload-id="${stored[0]}"]`);
  await item.waitFor();
  assert.match((await item.textContent()) ?? '', /speech-2s-16000\.wav.*KB, expires in/);
  assert.deepEqual(await listed(page), stored);
  assert.equal(await page.locator('#jobs .job').count(), 0);
  // 3. Deleted from the list: gone from the page and from the server.
  await item.getByRole('button', { name: 'Delete speech-2s-16000.wav' }).click();
  await page.locator('#uploads-section', { hasText: 'No uploaded files.' }).waitFor();
  assert.deepEqual(await serverUploads(user), []);
  assert.equal((await user.request('GET', `/api/uploads/${stored[0]}`)).status, 404);
  await page.context().close();
});

test('an upload stored while its tab was closing is listed when the page opens, and converts from there', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  // 1. A whole upload sent; its answer is never read: the connection is closed once the server has
  //    stored the file (watched on disk: the API's own list would spend the plan's API budget). A
  //    connection closed while the body is still being read leaves nothing (the third test).
  const body = multipartBody([
    { disposition: 'form-data; name="file"; filename="left-behind.wav"', data: await readFile(tinyWav(3)) },
  ]);
  const sock = net.connect(Number(new URL(svc.baseUrl).port), '127.0.0.1');
  sock.on('error', () => {});
  sock.write(multipartPost('/api/uploads', user.session?.token ?? '', body));
  const uploadsDir = path.join(svc.dataDir, 'workspaces', user.session?.userId ?? '', 'uploads');
  const names = () => readdir(uploadsDir).catch(() => [] as string[]);
  await waitUntil(
    async () => (await names()).filter((n) => !n.endsWith('.part')).length === 2,
    30_000,
    'the server to store the upload',
  );
  sock.destroy();
  const files = await serverUploads(user);
  assert.equal(files.length, 1);
  // 2. The page, opened afterwards, lists it.
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const item = page.locator(`#uploads .upload[data-upload-id="${files[0].name}"]`);
  await item.waitFor();
  assert.match((await item.textContent()) ?? '', /left-behind\.wav/);
  // No job yet: the job list says so, and how to make one.
  await page
    .locator('#jobs-section #no-jobs', {
      hasText: 'No jobs yet: choose an audio file above and press Upload and convert.',
    })
    .waitFor();
  // 3. *Convert* makes it the next conversion's source: converted without a new upload.
  await item.getByRole('button', { name: 'Convert left-behind.wav' }).click();
  await page.locator('#kept-upload:not([hidden])', { hasText: 'left-behind.wav' }).waitFor();
  await page.locator('#status', { hasText: 'left-behind.wav is selected: pick the settings' }).waitFor();
  await page.click('#submit');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  assert.equal((await serverUploads(user)).length, 1, 'no second upload');
  assert.equal(await page.locator('#no-jobs').count(), 0, 'a job listed: no "No jobs yet"');
  await page.context().close();
});

test('a clone whose answer was lost: the page says so and lists the voice the server made', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  await page.locator('#uploads-section', { hasText: 'No uploaded files.' }).waitFor();
  // 1. POST /api/voices is answered 202, and the answer is failed on its way to the page.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/api/voices', requestStage: 'Response' }] });
  cdp.on('Fetch.requestPaused', ({ requestId, request, responseStatusCode }) => {
    const lost = request.method === 'POST' && responseStatusCode === 202;
    void cdp.send(lost ? 'Fetch.failRequest' : 'Fetch.continueRequest', {
      requestId,
      ...(lost ? { errorReason: 'ConnectionReset' as const } : {}),
    });
  });
  await page.fill('#voice-name', 'Lost answer');
  await page.setInputFiles(
    '#voice-file',
    espeakSentence('en-us+f3', 'A reference voice whose answer is lost on its way back to the page.'),
  );
  await page.click('#clone-submit');
  await page.locator('#clone-status.error', { hasText: 'got no answer (network error)' }).waitFor();
  // 2. The voices read again: the voice the server made is listed, and its clone runs to the end.
  await page
    .locator('#voices .voice[data-state="ready"]', { hasText: 'Lost answer' })
    .waitFor({ timeout: 60_000 });
  const voices = (await user.request('GET', '/api/voices')).body.voices as Json[];
  assert.deepEqual(
    voices.map((v) => v.name),
    ['Lost answer'],
  );
  await page.context().close();
});

test('an upload cut short (the connection dropped mid-body) leaves nothing in the workspace', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const uploadsDir = path.join(svc.dataDir, 'workspaces', user.session?.userId ?? '', 'uploads');
  const body = multipartBody([
    { disposition: 'form-data; name="file"; filename="cut.wav"', data: await readFile(tinyWav(3)) },
  ]);
  const request = multipartPost('/api/uploads', user.session?.token ?? '', body);
  // 1. Half the request sent: the server starts the partial file.
  const sock = net.connect(Number(new URL(svc.baseUrl).port), '127.0.0.1');
  sock.on('error', () => {});
  sock.write(request.subarray(0, request.length / 2));
  const names = () => readdir(uploadsDir).catch(() => [] as string[]);
  await waitUntil(async () => (await names()).some((n) => n.endsWith('.part')), 30_000, 'the partial file');
  // 2. The connection drops: the partial file is removed, and nothing was ever listed.
  sock.destroy();
  await waitUntil(async () => (await names()).length === 0, 30_000, 'the partial file to be removed');
  assert.deepEqual(await serverUploads(user), []);
  assert.equal((await user.request('GET', '/api/workspace')).body.usage.bytes, 0);
});
