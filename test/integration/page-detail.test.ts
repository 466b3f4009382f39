import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { ResultLinks } from '../../src/links/index.js';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { assertAccessible, audioDuration, pageWithToken, seekAudio } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence, humanSpeech } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import type { TestService } from '../helpers/service.js';

// The page beyond the basics (page.test.ts), in Chromium against a real service: the job detail
// with its before/after players and pictures, queue places, the dashboard's charts, failures,
// usage and cancel, keyboard-only use, axe-core in every state reached.

let bench: PageBench;
let svc: TestService;
let browser: Browser;
let dir: string;
before(async () => {
  bench = await startPageBench('page-detail');
  ({ svc, browser, dir } = bench);
});
after(async () => {
  await bench?.close();
});

test('job detail: before/after players with waveform and spectrogram; the original plays for its owner only', async () => {
  const owner = await ApiClient.anonymous(svc.baseUrl);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const ownerId = owner.session?.userId ?? '';
  const up = await owner.upload(espeakSentence('en-us+m3'));
  assert.equal(up.status, 201);
  const uploadId: string = up.body.upload.id;
  const job = await owner.waitForJobEnd(
    (await owner.createJob({ uploadId, outputFormat: 'mp3', pitchSemitones: 2 })).id,
  );
  assert.equal(job.state, 'completed');

  // 1. The page: Details opens both players, each with its waveform and spectrogram drawn.
  const page = await pageWithToken(browser, svc.baseUrl, owner.session?.token ?? '');
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  const card = page.locator(`.job[data-job-id="${job.id}"]`);
  const toggle = card.getByRole('button', { name: `Details of ${up.body.upload.filename}` });
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  // What the detail asks the API for besides the two players' audio: nothing, for a job read
  // with the list (its view carries the original's signed link and its timings).
  const asked: string[] = [];
  page.on('request', (r) => {
    const { pathname } = new URL(r.url());
    if (/^\/api\/(uploads\/[\w-]+|jobs\/[\w-]+)$/.test(pathname)) asked.push(`${r.method()} ${pathname}`);
  });
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  for (const label of ['original', 'result']) {
    await card.locator(`.wave-${label}[data-ready="true"]`).waitFor({ timeout: 20_000 });
    const name = `${label === 'original' ? 'Original' : 'Converted'} ${up.body.upload.filename}`;
    const audio = card.getByLabel(name, { exact: true });
    assert.match((await audio.getAttribute('src')) ?? '', /^\/api\/(jobs|uploads)\/[\w-]+\/(result|audio)\?/);
    const duration = await audioDuration(audio);
    assert.ok(Math.abs(duration - job.durationSec) < 0.5, `${label}: ${duration} s of ${job.durationSec}`);
    assert.ok(Math.abs((await seekAudio(audio, duration / 2)) - duration / 2) < 0.5);
    // Painted pixels on the waveform canvases and on a 96 px spectrogram, inside wavesurfer's shadow root.
    const drawn = await card.locator(`.wave-${label} .wave-picture`).evaluate((el) => {
      const host = (el as unknown as { querySelector(s: string): { shadowRoot: unknown } }).querySelector(
        'div',
      );
      const root = host.shadowRoot as { querySelectorAll(s: string): Iterable<unknown> };
      return [...root.querySelectorAll('canvas')].map((c) => {
        const canvas = c as {
          width: number;
          height: number;
          style: { height: string };
          getContext(t: string): { getImageData(...a: number[]): { data: Uint8ClampedArray } };
        };
        if (!canvas.width || !canvas.height) return { height: canvas.style.height, painted: 0 };
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return { height: canvas.style.height, painted: painted / (canvas.width * canvas.height) };
      });
    });
    assert.ok(
      drawn.some((c) => c.height !== '96px' && c.painted > 0.02),
      `${label} waveform: ${JSON.stringify(drawn)}`,
    );
    assert.ok(
      drawn.some((c) => c.height === '96px' && c.painted > 0.5),
      `${label} spectrogram: ${JSON.stringify(drawn)}`,
    );
  }
  assert.deepEqual(asked, [], 'the detail needed no request of its own');
  const detail = card.locator('.job-detail');
  assert.match((await detail.textContent()) ?? '', /pitch shift only · \+2 semitones · MP3/);
  assert.match((await detail.textContent()) ?? '', /Processing[\d.]+ s, [\d.]+× real time/);
  assert.deepEqual(violations, [], 'wavesurfer runs under the page CSP (its style carries the nonce)');
  await assertAccessible(page, 'job detail');
  const src = (await card.locator('.wave-original audio').getAttribute('src')) ?? '';
  await page.context().close();

  // 2. The original's signed link: the uploaded bytes exactly, ranges too, without a token.
  assert.match(src, /^\/api\/uploads\/[\w-]+\/audio\?user=u_\w+&exp=\d+&sig=[\w-]+$/);
  const onDisk = await readFile(path.join(svc.dataDir, 'workspaces', ownerId, 'uploads', uploadId));
  const whole = await fetch(`${svc.baseUrl}${src}`);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-type'), 'audio/wav');
  assert.deepEqual(Buffer.from(await whole.arrayBuffer()), onDisk);
  const part = await fetch(`${svc.baseUrl}${src}`, { headers: { range: 'bytes=44-1043' } });
  assert.equal(part.status, 206);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), onDisk.subarray(44, 1044));

  // 3. Nobody else: altered, re-addressed, expired or result-kind links are 403; another user's
  //    token finds nothing; no token and no link is 401. No message names a path.
  const links = new ResultLinks(
    Buffer.from((await readFile(path.join(svc.dataDir, 'result-link-secret'), 'utf8')).trim()),
    3600,
  );
  const otherId = other.session?.userId ?? '';
  const resultSig = new URL(job.resultUrl ?? '', svc.baseUrl).searchParams;
  const forbidden = [
    src.replace(/sig=([\w-])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
    src.replace(`user=${ownerId}`, `user=${otherId}`),
    links.uploadUrl(uploadId, ownerId, Date.now() - (links.ttlSec + 5) * 1000),
    `/api/uploads/${uploadId}/audio?user=${ownerId}&exp=${resultSig.get('exp')}&sig=${resultSig.get('sig')}`,
  ];
  for (const url of forbidden) {
    const r = await fetch(`${svc.baseUrl}${url}`);
    const body = (await r.json()) as { error: string; message: string };
    assert.equal(r.status, 403, url);
    assert.equal(body.error, 'VC_ERR_FORBIDDEN');
    assert.doesNotMatch(body.message, /\/[\w.-]+\//);
  }
  // A link the other user could make for themselves opens nothing of the owner's.
  const theirs = await fetch(`${svc.baseUrl}${links.uploadUrl(uploadId, otherId)}`);
  assert.equal(theirs.status, 404);
  assert.deepEqual(await theirs.json(), { error: 'VC_ERR_NOT_FOUND', message: 'upload not found' });
  const plain = `/api/uploads/${uploadId}/audio`;
  assert.equal((await fetch(`${svc.baseUrl}${plain}`)).status, 401);
  assert.equal((await fetch(`${svc.baseUrl}${plain}`, { headers: other.headers() })).status, 404);
  assert.equal((await other.request('GET', `/api/uploads/${uploadId}`)).status, 404);
  assert.equal((await fetch(`${svc.baseUrl}${plain}`, { headers: owner.headers() })).status, 200);
  for (const q of ['user=../../etc&exp=1&sig=aaaaaaaaaaaaaaaaaaaa', 'exp=abc', 'extra=1']) {
    const r = await fetch(`${svc.baseUrl}${plain}?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(((await r.json()) as { error: string }).error, 'VC_ERR_VALIDATION');
  }
});

test('a card that completes live says how long the job took and how fast, as the reloaded card does', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  // Three minutes of speech (about 1 MB of Vorbis): a job that runs for seconds, so the page knows its card
  // before it ends (a 15 s clip can finish before the card is first drawn on an idle machine).
  const long = path.join(dir, 'live-took.ogg');
  await promisify(execFile)('ffmpeg', [
    ...['-v', 'error', '-y', '-stream_loop', '12', '-i', humanSpeech(2)],
    ...['-ac', '1', '-t', '180', '-c:a', 'libvorbis', '-q:a', '0', long],
  ]);
  await page.setInputFiles('#file', long);
  await page.click('#submit');
  // Known to the page before it ends: its completion arrives as a live event, not in a view.
  const live = page.locator('#jobs .job[data-kind="convert"]:not([data-state="completed"])');
  await live.waitFor({ timeout: 30_000 });
  const id = (await live.getAttribute('data-job-id')) ?? '';
  const card = page.locator(`.job[data-job-id="${id}"][data-state="completed"]`);
  await card.waitFor({ timeout: 60_000 });
  const took = async () => ((await card.locator('.job-meta').textContent()) ?? '').split(' · took ')[1];
  const liveTook = await took();
  assert.match(liveTook ?? '', /^[\d.]+ s, [\d.]+× real time$/, 'the live card says how long it took');
  await page.reload();
  await card.waitFor();
  assert.equal(await took(), liveTook, 'the reloaded card says the same');
  await page.context().close();
});

test('queued jobs show their place and wait, live, computed from the queue; a user sees only their own', async () => {
  // A pro user: the page and this test together may pass an anonymous user's API limit (config/plans.json).
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', {
    name: 'queued',
    plan: 'pro',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const owner = new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
  const other = await ApiClient.anonymous(svc.baseUrl);
  // 1. Two short jobs finish (the recent throughput), then long ones take every thread.
  const short = (await owner.upload(espeakSentence('en-us+m3'))).body.upload.id;
  for (const p of [1, 2])
    assert.equal(
      (
        await owner.waitForJob(
          (
            await owner.createJob({ uploadId: short, outputFormat: 'wav', pitchSemitones: p })
          ).id,
        )
      ).state,
      'completed',
    );
  const stats = await adminRequest(svc.baseUrl, 'GET', '/api/system/stats');
  const threads = stats.body.workers.reduce((n: number, w: { size: number }) => n + w.size, 0);
  // About 15 minutes of speech (a small Vorbis file): minutes of work for a thread, until cancelled.
  const longFile = path.join(dir, 'queue-long.ogg');
  // Not execFileSync: the API runs in this process, and a blocked event loop sheds its requests (503).
  await promisify(execFile)('ffmpeg', [
    ...['-v', 'error', '-y', '-stream_loop', '100', '-i', humanSpeech(1)],
    ...['-ac', '1', '-c:a', 'libvorbis', '-q:a', '0', longFile],
  ]);
  const long = (await owner.upload(longFile)).body.upload.id;
  const events = await owner.openEvents();
  const longJobs: string[] = [];
  for (let i = 0; i < threads; i++) {
    const id = (await owner.createJob({ uploadId: long, outputFormat: 'wav', pitchSemitones: 1 })).id;
    longJobs.push(id);
    await events.waitFor((m) => m.jobId === id && (m.type === 'progress' || m.type === 'stage'));
  }
  // The first waiting job is long too, so the last one stays second while it runs (a real shift:
  // 0 semitones would be a plain copy, done in seconds).
  const waiting: string[] = [];
  for (let i = 0; i < 3; i++)
    waiting.push(
      (
        await owner.createJob({
          uploadId: i === 0 ? long : short,
          outputFormat: 'wav',
          pitchSemitones: -(i + 1),
        })
      ).id,
    );

  // 2. Over HTTP: the three wait in the order made, each with a wait in whole seconds; nobody else sees them.
  const mine = await owner.request('GET', '/api/queue');
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  assert.deepEqual(
    mine.body.jobs.map((j: { jobId: string; position: number }) => [j.jobId, j.position]),
    waiting.map((id, i) => [id, i + 1]),
  );
  assert.ok(mine.body.throughput.perMin > 0, JSON.stringify(mine.body.throughput));
  for (const j of mine.body.jobs) assert.ok(Number.isInteger(j.etaSec) && j.etaSec > 0, JSON.stringify(j));
  // Later places wait no less (whole seconds: short jobs behind one slot may share a second).
  assert.ok(mine.body.jobs[2].etaSec >= mine.body.jobs[0].etaSec, JSON.stringify(mine.body));
  assert.deepEqual((await other.request('GET', '/api/queue')).body.jobs, []);
  assert.equal((await fetch(`${svc.baseUrl}/api/queue`)).status, 401);

  // 3. On the page, live: the last one is third, then second once a long job is cancelled, then done.
  const page = await pageWithToken(browser, svc.baseUrl, owner.session?.token ?? '');
  const last = page.locator(`.job[data-job-id="${waiting[2]}"] .job-queue`);
  await last
    .filter({ hasText: /^ · 3rd in line · starts in about \d+ (s|min)$/ })
    .waitFor({ timeout: 20_000 });
  await assertAccessible(page, 'jobs in the queue');
  // The long job is running: its cancellation is asked for (202) and applied by its worker.
  assert.equal(await owner.request('DELETE', `/api/jobs/${longJobs[0]}`).then((r) => r.status), 202);
  await last
    .filter({ hasText: /^ · 2nd in line · starts in about/ })
    .waitFor({ timeout: 20_000 })
    .catch(async (err) => {
      const q = await owner.request('GET', '/api/queue');
      const states = await Promise.all(
        [...longJobs, ...waiting].map(
          async (id) => (await owner.request('GET', `/api/jobs/${id}`)).body.job.state,
        ),
      );
      const card = await page.locator(`.job[data-job-id="${waiting[2]}"]`).textContent();
      throw new Error(`card "${card}", states ${states}, queue ${JSON.stringify(q.body)}: ${err}`);
    });
  for (const id of [...longJobs.slice(1), waiting[0]]) await owner.request('DELETE', `/api/jobs/${id}`);
  await page
    .locator(`.job[data-job-id="${waiting[2]}"][data-state="completed"]`)
    .waitFor({ timeout: 60_000 });
  assert.equal(await last.count(), 0, 'a job that left the queue shows no place');
  for (const id of waiting.slice(1)) await events.waitFor((m) => m.jobId === id && m.type === 'completed');
  events.close();
  assert.deepEqual((await owner.request('GET', '/api/queue')).body.jobs, []);
  await page.context().close();
});

test('the /admin dashboard: live charts, failures with codes apart from cancellations, usage per user, cancel any job', async () => {
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', {
    name: 'ops-seen',
    plan: 'pro',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const user = new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
  const userId: string = created.body.user.id;
  // 1. A job that fails (its stored upload damaged, as a disk fault would), one cancelled while running, one done.
  const broken = await user.upload(espeakSentence('en-us+m3'));
  const stored = path.join(svc.dataDir, 'workspaces', userId, 'uploads', broken.body.upload.id);
  const bytes = await readFile(stored);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  await writeFile(stored, bytes);
  const failed = await user.waitForJob(
    (await user.createJob({ uploadId: broken.body.upload.id, outputFormat: 'wav', pitchSemitones: 1 })).id,
  );
  assert.equal(failed.state, 'failed', JSON.stringify(failed));
  const longFile = path.join(dir, 'admin-long.ogg');
  // Not execFileSync: the API runs in this process, and a blocked event loop sheds its requests (503).
  await promisify(execFile)('ffmpeg', [
    ...['-v', 'error', '-y', '-stream_loop', '100', '-i', humanSpeech(1)],
    ...['-ac', '1', '-c:a', 'libvorbis', '-q:a', '0', longFile],
  ]);
  const long = (await user.upload(longFile)).body.upload.id;
  const events = await user.openEvents();
  const running = (await user.createJob({ uploadId: long, outputFormat: 'wav', pitchSemitones: 1 })).id;
  await events.waitFor((m) => m.jobId === running && m.type === 'progress');
  assert.equal((await user.request('DELETE', `/api/jobs/${running}`)).status, 202); // running: stopped by its worker
  await events.waitFor((m) => m.jobId === running && m.type === 'cancelled');
  assert.deepEqual((await user.request('GET', `/api/jobs/${running}`)).body.job.error, {
    code: 'VC_ERR_CANCELLED',
    message: 'cancelled by the user',
  });
  const short = (await user.upload(espeakSentence('en-us+f3'))).body.upload.id;
  await user.waitForJob(
    (await user.createJob({ uploadId: short, outputFormat: 'wav', pitchSemitones: 2 })).id,
  );

  // 2. The admin routes: the failure with its code (the cancellation is not one), usage per user.
  for (const [method, url] of [
    ['GET', '/api/admin/failures'],
    ['GET', '/api/admin/usage'],
    ['GET', `/api/admin/jobs/${running}`],
    ['DELETE', `/api/admin/jobs/${running}`],
  ]) {
    assert.equal((await adminRequest(svc.baseUrl, method, url, undefined, '')).status, 401, url);
    assert.equal((await user.request(method, url)).status, 403, `${url} with a user's key`);
  }
  // (One wrong token only: failed admin attempts are throttled per address.)
  assert.equal(
    (await adminRequest(svc.baseUrl, 'DELETE', `/api/admin/jobs/${running}`, undefined, 'x'.repeat(33)))
      .status,
    401,
  );
  const listed = await adminRequest(svc.baseUrl, 'GET', '/api/admin/failures?limit=100');
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const failures = listed.body.failures;
  const row = failures.find((f: { id: string }) => f.id === failed.id);
  assert.deepEqual(
    { code: row?.code, userId: row?.userId, userName: row?.userName, message: row?.message },
    { code: failed.error?.code, userId, userName: 'ops-seen', message: failed.error?.message },
  );
  assert.doesNotMatch(row.message, /\/[\w.-]+\//, 'no server path');
  assert.equal(failures.filter((f: { id: string }) => f.id === running).length, 0);
  assert.equal((await adminRequest(svc.baseUrl, 'GET', '/api/admin/failures?limit=0')).status, 400);
  const usage = (await adminRequest(svc.baseUrl, 'GET', '/api/admin/usage')).body.users;
  const mine = usage.find((u: { userId: string }) => u.userId === userId);
  assert.deepEqual(
    { completed: mine.completed, failed: mine.failed, cancelled: mine.cancelled, queued: mine.queued },
    { completed: 1, failed: 1, cancelled: 1, queued: 0 },
  );
  assert.equal(mine.userName, 'ops-seen');

  // 3. The dashboard shows them, and the last minute counts the cancellation apart from failures.
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${svc.baseUrl}/admin`);
  // A mistyped token is one request (one attempt against the address's limit), not one per panel.
  const asked: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) asked.push(new URL(r.url()).pathname);
  });
  await page.fill('#admin-token', `${ADMIN_TOKEN}x`);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  await page.getByText('That admin token was refused.').waitFor();
  assert.deepEqual(asked, ['/api/system/stats']);
  await page.fill('#admin-token', ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  await page
    .locator(`.failure[data-job-id="${failed.id}"] .failure-code`, { hasText: failed.error?.code })
    .waitFor();
  const usageRow = page.locator(`.user-usage[data-user-id="${userId}"]`);
  assert.deepEqual((await usageRow.locator('td').allTextContents()).slice(1, 6), ['0', '0', '1', '1', '1']);
  // Users by account name, the id on hover and behind a copy button (not the id in place of a name).
  for (const cell of [
    usageRow.locator('.user-name'),
    page.locator(`.failure[data-job-id="${failed.id}"] .user-name`),
  ]) {
    assert.equal(await cell.locator('span').textContent(), 'ops-seen');
    assert.equal(await cell.locator('span').getAttribute('title'), userId);
    assert.equal(await cell.getByRole('button', { name: 'Copy id of ops-seen' }).count(), 1);
  }
  assert.match(
    (await page.locator('#throughput').textContent()) ?? '',
    /1m: \d+ done, \d+ failed, [1-9]\d* cancelled/,
  );
  for (const id of ['chart-throughput', 'chart-depth', 'chart-threads']) {
    const canvas = page.locator(`#${id} canvas`);
    await canvas.waitFor();
    assert.ok(((await canvas.boundingBox())?.width ?? 0) > 200, id);
  }
  assert.equal(await page.getByRole('img', { name: /^Threads and busy threads: chart/ }).count(), 1);

  // 4. Cancel another user's running job from the dashboard: followed until it has stopped.
  const victim = (await user.createJob({ uploadId: long, outputFormat: 'wav', pitchSemitones: 3 })).id;
  await events.waitFor((m) => m.jobId === victim && m.type === 'progress');
  await page.locator(`.thread[data-state="busy"]`).first().waitFor();
  await page.screenshot({ path: path.join(dir, 'dashboard.png') });
  await page.fill('#cancel-job-id', victim);
  await page.getByRole('button', { name: 'Cancel job' }).click();
  await page.locator('#cancel-status', { hasText: `Job ${victim}: cancelled.` }).waitFor({ timeout: 20_000 });
  await events.waitFor((m) => m.jobId === victim && m.type === 'cancelled');
  const stopped = (await user.request('GET', `/api/jobs/${victim}`)).body.job;
  assert.equal(stopped.state, 'cancelled');
  // The user reads who stopped it: an operator, not "the user".
  assert.deepEqual(stopped.error, { code: 'VC_ERR_CANCELLED', message: 'cancelled by an operator' });
  await page.fill('#cancel-job-id', 'no-such-job-0000');
  await page.getByRole('button', { name: 'Cancel job' }).click();
  await page.locator('#cancel-status', { hasText: 'Job no-such-job-0000: refused: job not found' }).waitFor();
  await assertAccessible(page, 'dashboard with failures, usage and a cancel');
  events.close();
  if (process.env.VCFARM_SCREENSHOTS)
    await writeFile(
      path.join(process.env.VCFARM_SCREENSHOTS, 'dashboard.png'),
      await readFile(path.join(dir, 'dashboard.png')),
    );
  await context.close();
});

/** Presses Tab until `selector` has the focus (at most `max` times); fails otherwise. */
async function tabTo(page: Page, selector: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (
      await page
        .locator(selector)
        .evaluate(
          (el) =>
            el ===
            (el as unknown as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement,
        )
    )
      return;
  }
  throw new Error(`${selector} was not reached with Tab`);
}

/** The focused element's outline: a visible focus ring has a width and a style. */
async function focusRing(page: Page): Promise<string> {
  return page.evaluate(() => {
    const g = globalThis as unknown as {
      document: { activeElement: unknown };
      getComputedStyle(el: unknown): { outlineStyle: string; outlineWidth: string };
    };
    const style = g.getComputedStyle(g.document.activeElement);
    return `${style.outlineStyle} ${style.outlineWidth}`;
  });
}

test('keyboard only: upload, convert, open the detail and play, rename a voice; axe finds nothing serious in any state; screenshots', async () => {
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', {
    name: 'keys-only',
    plan: 'pro',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const user = new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
  const clone = await user.cloneVoiceBytes(
    await readFile(
      espeakSentence('en-us+f3', 'A short reference recording of my own voice, read slowly and clearly.'),
    ),
    'ref.wav',
    'Desk voice',
  );
  assert.equal(clone.status, 202, JSON.stringify(clone.body));
  await user.waitForJob(clone.body.job.id);
  const page = await pageWithToken(browser, svc.baseUrl, created.body.apiKey);
  await page.locator('#voices .voice', { hasText: 'Desk voice' }).waitFor();
  await assertAccessible(page, 'workspace, first load');

  // 1. Upload and convert with the keyboard alone: the file input opens its chooser on Enter.
  // Not Space: Chromium opens it on Space's keyup, and only while the keydown's user activation
  // lasts (5 s); a stalled test process can hold the two apart longer (tried: keydown, 6 s, keyup
  // opens nothing). Enter clicks on its keydown.
  // The wait for the chooser starts before the Tab presses, not beside the Enter: the driver turns
  // on file-chooser interception (CDP Page.setInterceptFileChooserDialog) only once a listener
  // exists, and a key press sent beside that call can reach the page first, so the chooser opens
  // un-intercepted and no event ever comes (puppeteer/puppeteer#6040 describes the race; it failed
  // so once in CI at load ~2). The Tab presses and focus checks below are round trips that let it settle.
  const chooserOpened = page.waitForEvent('filechooser', { timeout: 60_000 });
  chooserOpened.catch(() => {}); // awaited below; this only keeps an earlier failure from leaving it unhandled
  const source = espeakSentence('en-us+m3');
  await tabTo(page, '#file');
  assert.match(await focusRing(page), /^solid [1-9]/, 'the file input shows its focus');
  await page.keyboard.press('Enter');
  const chooser = await chooserOpened;
  await chooser.setFiles(source);
  await tabTo(page, '#pitch');
  await page.keyboard.type('2');
  await tabTo(page, '#submit');
  assert.match(await focusRing(page), /^solid [1-9]/, 'the button shows its focus');
  await page.keyboard.press('Enter');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  await assertAccessible(page, 'a conversion finished');
  const card = page.locator('#jobs .job[data-kind="convert"]').first();
  const jobId = (await card.getAttribute('data-job-id')) ?? '';

  // 2. Open the detail and play the result with the keyboard.
  await tabTo(page, `.job[data-job-id="${jobId}"] .job-details`);
  await page.keyboard.press('Enter');
  await card.locator('.wave-result[data-ready="true"]').waitFor({ timeout: 20_000 });
  await card.locator('.wave-original[data-ready="true"]').waitFor({ timeout: 20_000 });
  await assertAccessible(page, 'job detail open');
  await tabTo(page, `.job[data-job-id="${jobId}"] .wave-result audio`);
  assert.match(await focusRing(page), /^solid [1-9]/, 'the player shows its focus');
  await page.keyboard.press('Space');
  const player = card.locator('.wave-result audio');
  await player.evaluate(
    (a) =>
      new Promise<void>((resolve) => {
        const el = a as unknown as {
          paused: boolean;
          currentTime: number;
          addEventListener(t: string, f: () => void): void;
        };
        if (!el.paused && el.currentTime > 0) return resolve();
        el.addEventListener('timeupdate', () => el.currentTime > 0 && resolve());
      }),
  );
  assert.equal(await player.evaluate((a) => (a as unknown as { paused: boolean }).paused), false);
  await page.keyboard.press('Space');
  await card
    .locator('.job-detail')
    .evaluate((el) =>
      (el as unknown as { scrollIntoView(o: unknown): void }).scrollIntoView({ block: 'end' }),
    );
  await page.screenshot({ path: path.join(dir, 'job-detail.png') });

  // 3. Rename a voice by keyboard; the name changes on the server, refused names say why.
  await tabTo(page, 'button[aria-label="Rename voice Desk voice"]');
  await page.keyboard.press('Enter');
  const nameInput = page.getByLabel('New name for Desk voice');
  assert.equal(
    await nameInput.evaluate(
      (el) =>
        el === (el as unknown as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement,
    ),
    true,
  );
  await assertAccessible(page, 'rename form open');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Desk voice <script>');
  await page.keyboard.press('Enter');
  await page.locator('#voices-section .error', { hasText: /^name must be 1-80 letters/ }).waitFor();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Studio desk');
  await page.keyboard.press('Enter');
  await page.locator('#voices .voice-name', { hasText: 'Studio desk' }).waitFor();
  assert.equal(
    (await user.request('GET', `/api/voices/${clone.body.voice.id}`)).body.voice.name,
    'Studio desk',
  );
  const other = await ApiClient.anonymous(svc.baseUrl);
  const theirs = await other.request('PATCH', `/api/voices/${clone.body.voice.id}`, { name: 'Mine now' });
  assert.equal(theirs.status, 404, 'another user cannot rename it');
  for (const body of [{}, { name: 7 }, { name: 'x', extra: 1 }, { name: '' }, { name: 'a'.repeat(81) }]) {
    const r = await user.request('PATCH', `/api/voices/${clone.body.voice.id}`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error, 'VC_ERR_VALIDATION');
  }
  await assertAccessible(page, 'after a rename');
  await page.screenshot({ path: path.join(dir, 'workspace.png') });
  // The voice library: the own voice and every preset with its preview player.
  await page.locator('#presets .preset audio.voice-preview').first().waitFor();
  await page.locator('#voices-section').scrollIntoViewIfNeeded();
  await page.locator('#voices-section').screenshot({ path: path.join(dir, 'voices.png') });

  // 4. An error state, and the phone width.
  const notes = path.join(dir, 'keys-notes.wav');
  await writeFile(notes, 'not audio at all\n'.repeat(40));
  await page.setInputFiles('#file', notes);
  await page.click('#submit');
  await page.locator('#status.error', { hasText: 'not a readable audio file' }).waitFor();
  await assertAccessible(page, 'an upload refused');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('#convert').scrollIntoViewIfNeeded();
  await assertAccessible(page, 'phone width');
  await page.screenshot({ path: path.join(dir, 'workspace-phone.png') });
  await page.context().close();

  // 5. The dashboard: the token form and the dashboard itself.
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const admin = await context.newPage();
  await admin.goto(`${svc.baseUrl}/admin`);
  await assertAccessible(admin, 'admin token form');
  await admin.fill('#admin-token', ADMIN_TOKEN);
  await admin.keyboard.press('Enter');
  await admin.locator('.worker').first().waitFor();
  await admin.locator('#chart-threads canvas').waitFor();
  await assertAccessible(admin, 'dashboard');
  await context.close();
  if (process.env.VCFARM_SCREENSHOTS)
    for (const f of ['workspace.png', 'workspace-phone.png', 'job-detail.png', 'voices.png'])
      await writeFile(path.join(process.env.VCFARM_SCREENSHOTS, f), await readFile(path.join(dir, f)));
});
