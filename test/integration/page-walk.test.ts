import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { ApiTally } from '../helpers/api-tally.js';
import { assertAccessible, audioDuration } from '../helpers/browser.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import { shippedPlans } from '../helpers/plans.js';
import type { TestService } from '../helpers/service.js';

// The whole page once more as a new user would use it, in Chromium at desktop and phone sizes:
// upload → convert with a preset → play → detail → download; clone → preview → rename → remove the
// job → delete the voice; then the admin scales 2 → 3 → 2. Over all of it, no Content-Security-Policy
// violation (wavesurfer's shadow-root style, uPlot's charts, the players) and no page error.

const run = promisify(execFile);

let bench: PageBench;
let svc: TestService;
let browser: Browser;
before(async () => {
  bench = await startPageBench('page-walk');
  ({ svc, browser } = bench);
});
after(async () => {
  await bench?.close();
});

interface Watch {
  /** `securitypolicyviolation` events (directive and what was blocked) and CSP console messages, by step. */
  csp: string[];
  /** The step of the walk now, for the messages. */
  step: string;
  pageErrors: string[];
}

/**
 * A fresh context (a new user: no token) whose pages report every CSP violation: the listener is
 * added by the DevTools protocol before any page script runs, so the page's own CSP allows it.
 */
async function watchedContext(
  viewport: { width: number; height: number },
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ context: BrowserContext; watch: Watch }> {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
  const watch: Watch = { csp: [], step: 'start', pageErrors: [] };
  await context.exposeFunction('reportCsp', (line: string) => watch.csp.push(`${watch.step}: ${line}`));
  await context.addInitScript(() => {
    type Violation = {
      violatedDirective: string;
      blockedURI: string;
      sourceFile: string;
      lineNumber: number;
      target: { nodeName?: string; outerHTML?: string } | null;
    };
    const g = globalThis as unknown as {
      document: { addEventListener(t: string, f: (e: Violation) => void, capture: boolean): void };
      reportCsp(line: string): void;
    };
    g.document.addEventListener(
      'securitypolicyviolation',
      (e) =>
        g.reportCsp(
          `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber} in ${
            e.target?.outerHTML?.slice(0, 160) ?? e.target?.nodeName ?? 'the document'
          }`,
        ),
      true,
    );
  });
  context.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text()))
      watch.csp.push(`${watch.step}: console: ${m.text()}`);
  });
  context.on('weberror', (e) => watch.pageErrors.push(e.error().message));
  return { context, watch };
}

/**
 * What the page may ask of the API in each step of the walk (requests counted against the user's
 * `api` rate limit; the WebSocket apart), each request named. A regression (a list read again
 * after every event, a job's view asked for once per event) fails here by its count, whatever the
 * timing, long before it meets the rate limit.
 */
const BUDGET: Record<string, number> = {
  // GET /api/voices, GET /api/jobs, GET /api/workspace.
  '0 open': 3,
  // The workspace before the upload (limits), POST /api/uploads, POST /api/jobs, the workspace
  // once the job is made and once it has ended. The job's first events wait for POST's answer.
  '1 convert': 5,
  // The finished job's timings (events carry none), the original's signed link.
  '2 play and detail': 2,
  // The result downloads from its signed link (the test's own two requests are counted apart).
  '3 download': 0,
  // The workspace before, POST /api/voices, the workspace once the clone is made and once it has
  // ended, PATCH /api/voices/:id. The voice follows its clone job: no list read again.
  '4 clone and rename': 5,
  // DELETE /api/jobs/:id/record, the workspace after it, DELETE /api/voices/:id.
  '5 remove and delete': 3,
};
/** The test's own requests with the page's token (step 3: the job's view and its result). */
const TEST_REQUESTS = 2;

const AXE_STEP = 'axe-core';

/**
 * axe-core's checks, whose own injected code makes Chromium report a blocked inline style (the
 * test's tool, not the page): what is reported while it runs is set apart from the page's.
 */
async function axeChecked(page: Page, watch: Watch, where: string): Promise<void> {
  const step = watch.step;
  watch.step = AXE_STEP;
  await assertAccessible(page, where);
  watch.step = step;
}

/** What the page itself caused: every report but those made while axe-core ran. */
const pageViolations = (watch: Watch) => watch.csp.filter((line) => !line.startsWith(`${AXE_STEP}:`));

/** Plays an `<audio>` until its playhead passes `t` seconds. */
async function playsPast(page: Page, selector: string, t: number): Promise<number> {
  return page.locator(selector).evaluate(
    (a, past) =>
      new Promise<number>((resolve, reject) => {
        const el = a as unknown as {
          currentTime: number;
          play(): Promise<void>;
          addEventListener(t: string, f: () => void): void;
        };
        el.addEventListener('timeupdate', () => el.currentTime > past && resolve(el.currentTime));
        el.play().catch(reject);
      }),
    t,
  );
}

// The phone walks in dark mode (prefers-color-scheme), so axe-core checks the dark colours too.
for (const [device, viewport, scheme, background] of [
  ['desktop', { width: 1366, height: 900 }, 'light', 'rgb(255, 255, 255)'],
  ['phone', { width: 390, height: 844 }, 'dark', 'rgb(21, 21, 23)'],
] as const) {
  test(`a new user on a ${device} (${viewport.width}x${viewport.height}, ${scheme}): convert, play, detail, download; clone, preview, rename, remove, delete; no CSP violation; within its API budget`, async () => {
    const { context, watch } = await watchedContext(viewport, scheme);
    const page = await context.newPage();
    const tally = new ApiTally();
    tally.watch(page);
    tally.step = '0 open';
    await page.goto(svc.baseUrl);
    // The colours follow the system's scheme; the icon the page names is served.
    const shownBackground = await page.evaluate(() => {
      const w = globalThis as unknown as {
        getComputedStyle(e: unknown): { backgroundColor: string };
        document: { body: unknown };
      };
      return w.getComputedStyle(w.document.body).backgroundColor;
    });
    assert.equal(shownBackground, background);
    const icon = await page.locator('link[rel="icon"]').getAttribute('href');
    const iconRes = await fetch(new URL(icon ?? '', svc.baseUrl));
    assert.equal(iconRes.status, 200);
    assert.equal(iconRes.headers.get('content-type'), 'image/svg+xml');
    const firstPreset = page.locator('#voice option[value^="preset-"]').first();
    await firstPreset.waitFor({ state: 'attached' });
    // Opened once the usage shows (the last thing the page reads when it opens).
    await page.locator('#usage').waitFor();

    watch.step = '1 convert';
    tally.step = watch.step;
    // 1. Upload and convert toward a preset, picked by its human name; its preview plays beside the picker.
    const presetId = (await firstPreset.getAttribute('value')) ?? '';
    await page.selectOption('#voice', presetId);
    await page.locator('#voice-preview audio.voice-preview').waitFor();
    assert.ok((await audioDuration(page.locator('#voice-preview audio'))) > 1, 'the preset preview loads');
    const source = espeakSentence('en-us+m3', 'A walk through the whole page, from upload to download.');
    await page.setInputFiles('#file', source);
    await page.selectOption('#format', 'mp3');
    await page.click('#submit');
    const card = page.locator('#jobs .job[data-kind="convert"]').first();
    await card.waitFor();
    await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
    const jobId = (await card.getAttribute('data-job-id')) ?? '';
    const filename = path.basename(source);
    // The list is a polite live region; each card's bar and buttons name their job.
    assert.equal(await page.locator('#jobs').getAttribute('aria-live'), 'polite');
    assert.equal(await card.getByRole('progressbar', { name: `${filename} progress` }).count(), 1);
    const token = await page.evaluate(() =>
      (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem(
        'vcfarm.token',
      ),
    );
    assert.ok(token, 'the page made its own session');
    // Nothing is wider than the screen (a long preset description once widened the form on a phone).
    const widths = await page.evaluate(() => {
      const w = globalThis as unknown as {
        innerWidth: number;
        document: {
          documentElement: { scrollWidth: number };
          querySelectorAll(
            s: string,
          ): Iterable<{ id: string; tagName: string; getBoundingClientRect(): { right: number } }>;
        };
      };
      const wide = [...w.document.querySelectorAll('main *')]
        .filter((e) => e.getBoundingClientRect().right > w.innerWidth + 1)
        .map((e) => `${e.tagName}#${e.id}`);
      return { page: w.document.documentElement.scrollWidth, screen: w.innerWidth, wide: wide.slice(0, 5) };
    });
    assert.ok(widths.page <= widths.screen, JSON.stringify(widths));
    if (device === 'phone') {
      const box = await card.boundingBox();
      assert.ok(
        box && box.y < viewport.height && box.y + box.height > 0,
        'the new job is scrolled into view',
      );
    }

    watch.step = '2 play and detail';
    tally.step = watch.step;
    // 2. The result plays on its card, then the detail draws both pictures and plays the result.
    assert.ok((await playsPast(page, `.job[data-job-id="${jobId}"] .job-audio`, 0.5)) > 0.5);
    await card.locator('.job-audio').evaluate((a) => (a as unknown as { pause(): void }).pause());
    await card.getByRole('button', { name: /^Details of / }).click();
    await card.locator('.wave-original[data-ready="true"]').waitFor({ timeout: 30_000 });
    await card.locator('.wave-result[data-ready="true"]').waitFor({ timeout: 30_000 });
    assert.ok((await playsPast(page, `.job[data-job-id="${jobId}"] .wave-result audio`, 0.3)) > 0.3);
    await card.locator('.wave-result audio').evaluate((a) => (a as unknown as { pause(): void }).pause());
    await axeChecked(page, watch, `${device}: job detail`);
    await card.locator('.job-detail').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(bench.dir, `walk-detail-${device}-${scheme}.png`) });

    watch.step = '3 download';
    tally.step = watch.step;
    // 3. Download saves the result file itself, under the name the card gives it.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.getByRole('link', { name: `Download ${filename} result` }).click(),
    ]);
    const saved = await readFile((await download.path()) ?? '');
    const job = (await (
      await fetch(`${svc.baseUrl}/api/jobs/${jobId}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { job: { filename: string } };
    assert.equal(download.suggestedFilename(), `${path.basename(job.job.filename, '.wav')}-converted.mp3`);
    const served = await fetch(`${svc.baseUrl}/api/jobs/${jobId}/result`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const onDisk = Buffer.from(await served.arrayBuffer());
    assert.ok(onDisk.length > 1000);
    assert.deepEqual(saved, onDisk, 'the downloaded file is the result');

    watch.step = '4 clone and rename';
    tally.step = watch.step;
    // 4. Clone a voice; its own preview (the recording) loads; renamed, the status line follows.
    await page.fill('#voice-name', `Walker ${device}`);
    await page.setInputFiles(
      '#voice-file',
      espeakSentence('en-us+f3', 'My own reference voice, read clearly for a few seconds on this walk.'),
    );
    await page.click('#clone-submit');
    await page
      .locator('#clone-status', { hasText: `Voice "Walker ${device}" is ready` })
      .waitFor({ timeout: 60_000 });
    const own = page.locator('#voices .voice', { hasText: `Walker ${device}` });
    assert.ok((await audioDuration(own.locator('audio.voice-preview'))) > 1, 'its recording previews');
    await own.getByRole('button', { name: `Rename voice Walker ${device}` }).click();
    await page.getByLabel(`New name for Walker ${device}`).fill(`Runner ${device}`);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#clone-status', { hasText: `Voice "Runner ${device}" is ready` }).waitFor();

    watch.step = '5 remove and delete';
    tally.step = watch.step;
    // 5. Remove the finished job, then delete the voice: both gone from the page.
    await card.getByRole('button', { name: /^Remove job .* and its result$/ }).click();
    await page.locator(`.job[data-job-id="${jobId}"]`).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: `Delete voice Runner ${device}` }).click();
    await page
      .locator('#voices .voice', { hasText: `Runner ${device}` })
      .waitFor({ state: 'detached', timeout: 10_000 })
      .catch(async (err) => {
        throw new Error(`${err}; the voices say: ${await page.locator('#voices-section').textContent()}`);
      });
    await axeChecked(page, watch, `${device}: after the walk`);
    // Within its budget, step by step, with one socket (a second allowed, for a reconnect); and the
    // whole walk, with the test's own requests, in half the free plan's minute: a person may walk
    // it twice a minute before the limit speaks.
    for (const [step, max] of Object.entries(BUDGET))
      assert.ok(tally.of(step).length <= max, `step ${step}: ${tally.of(step).length} > ${max}: ${tally}`);
    assert.deepEqual(
      [...tally.byStep.keys()].filter((step) => !(step in BUDGET)),
      [],
      `${tally}`,
    );
    assert.ok(tally.sockets >= 1 && tally.sockets <= 2, `${tally}`);
    const api = shippedPlans().plans.free.rateLimits.api;
    assert.ok(
      tally.total + TEST_REQUESTS <= api.max / 2,
      `${tally.total} + ${TEST_REQUESTS} requests > half of ${api.max} a minute: ${tally}`,
    );

    assert.deepEqual(pageViolations(watch), [], 'no Content-Security-Policy violation anywhere on the walk');
    assert.deepEqual(watch.pageErrors, []);
    await context.close();
    if (process.env.VCFARM_SCREENSHOTS)
      await copyFile(
        path.join(bench.dir, `walk-detail-${device}-${scheme}.png`),
        path.join(process.env.VCFARM_SCREENSHOTS, `job-detail-${device}-${scheme}.png`),
      );
  });
}

test('the admin scales 2 → 3 → 2 from the dashboard, shown as applied; no CSP violation', async () => {
  const { context, watch } = await watchedContext({ width: 1366, height: 900 });
  const page = await context.newPage();
  await page.goto(`${svc.baseUrl}/admin`);
  await page.fill('#admin-token', ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  const worker = page.locator('.worker').first();
  await worker.waitFor();
  await page.locator('#chart-threads canvas').waitFor();
  for (const n of [2, 3, 2]) {
    await page.fill('#scale-size', String(n));
    await page.getByRole('button', { name: 'Scale', exact: true }).click();
    await page.locator('#scale-status', { hasText: `Scale to ${n}: applied.` }).waitFor({ timeout: 30_000 });
    await worker.locator('.worker-size', { hasText: `size ${n}` }).waitFor();
    await worker
      .locator('.thread')
      .nth(n - 1)
      .waitFor();
    await worker.locator('.thread').nth(n).waitFor({ state: 'detached' });
  }
  // Autoscale on (1-3) and off, each followed to "applied".
  await page.locator('#controls input[name="min"]').fill('1');
  await page.locator('#controls input[name="max"]').fill('3');
  await page.getByRole('button', { name: 'Autoscale on' }).click();
  await page.locator('#scale-status', { hasText: 'Autoscale 1-3: applied.' }).waitFor({ timeout: 30_000 });
  await page.locator('.worker', { hasText: /autoscale 1-3/ }).waitFor();
  await page.getByRole('button', { name: 'Autoscale off' }).click();
  await page.locator('#scale-status', { hasText: 'Autoscale off: applied.' }).waitFor({ timeout: 30_000 });
  await page.locator('.worker', { hasText: /autoscale off/ }).waitFor();
  assert.deepEqual(pageViolations(watch), [], 'no Content-Security-Policy violation on the dashboard');
  assert.deepEqual(watch.pageErrors, []);
  await context.close();
});

test('scripts/monitor_multiuser.sh works from any folder and names the speed as real time', async () => {
  const script = fileURLToPath(new URL('../../../scripts/monitor_multiuser.sh', import.meta.url));
  const { stdout } = await run('bash', [script], {
    cwd: '/',
    env: { ...process.env, MONITOR_ONCE: '1', VCFARM_URL: svc.baseUrl, ADMIN_TOKEN },
  });
  assert.match(stdout, /^WORKERS 1 {3}threads \d+/m);
  assert.match(stdout, /speed [\d.]+× real time/);
  assert.match(stdout, /^QUEUE {3}waiting \d+/m);
  assert.match(stdout, /^THROUGHPUT 1m: \d+ done/m);
});
