import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { ResultLinks } from '../../src/links/index.js';
import { outputPathFor } from '../../src/workspace/index.js';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiTally } from '../helpers/api-tally.js';
import { assertAccessible, audioDuration, pageWithToken, seekAudio } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence, humanSpeech } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import type { TestService } from '../helpers/service.js';

// The page in Chromium against a real service: results stream from signed links, clones read as
// voices, status lines follow their jobs, errors carry no server path, limits are shown and kept.

let bench: PageBench;
let svc: TestService;
let browser: Browser;
let dir: string;
before(async () => {
  bench = await startPageBench('page');
  ({ svc, browser, dir } = bench);
});
after(async () => {
  await bench?.close();
});

/** Every /api response the page gets, with its status. */
function recordApi(page: Page): { method: string; path: string; status: number }[] {
  const seen: { method: string; path: string; status: number }[] = [];
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/api/'))
      seen.push({ method: r.request().method(), path: url.pathname + url.search, status: r.status() });
  });
  return seen;
}

test('five results play after five reloads, each load within its API budget, seek by Range, and download as the file', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const userId = user.session?.userId ?? '';
  // 1. Five finished conversions of one upload.
  const up = await user.upload(espeakSentence('en-us+m3'));
  assert.equal(up.status, 201);
  const events = await user.openEvents();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++)
    ids.push(
      (await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'ogg', pitchSemitones: i })).id,
    );
  for (const id of ids) await events.waitFor((m) => m.jobId === id && m.type === 'completed');
  events.close();
  // The seeding's requests are taken off the user's count: the page starts a fresh minute.
  const redis = new Redis(svc.redis.url);
  const counters = await redis.keys(`vcfarm:ratelimit:*api:user:${userId}`);
  assert.equal(counters.length, 1, `the user's API counter: ${counters}`);
  await redis.del(counters[0]);
  redis.disconnect();

  // 2. The first load and five reloads: every player gets a signed link and its metadata each time.
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const api = recordApi(page);
  // Counted from the first reload on (the first load began before the tally could watch).
  const tally = new ApiTally();
  tally.watch(page);
  tally.step = 'first load';
  const players = page.locator('.job[data-state="completed"] audio[src]');
  for (let load = 0; load < 6; load++) {
    if (load > 0) {
      tally.step = `load ${load}`;
      await page.reload();
    }
    await players.nth(4).waitFor({ timeout: 20_000 });
    await page.locator('#usage').waitFor();
    assert.equal(await players.count(), 5);
    for (let i = 0; i < 5; i++) {
      const src = (await players.nth(i).getAttribute('src')) ?? '';
      assert.match(src, /^\/api\/jobs\/[0-9a-f-]{36}\/result\?exp=\d+&sig=[\w-]+$/, `load ${load}`);
      const duration = await audioDuration(players.nth(i));
      assert.ok(duration > 1, `load ${load}, player ${i}: duration ${duration}`);
    }
  }
  assert.deepEqual(
    api.filter((r) => r.status >= 400),
    [],
    'no request was refused by the free plan',
  );
  // Each load reads the voices, the jobs and the workspace, and opens one socket; the players'
  // signed links count nothing.
  for (let load = 1; load < 6; load++)
    assert.deepEqual(
      tally.of(`load ${load}`).sort(),
      ['GET /api/jobs', 'GET /api/voices', 'GET /api/workspace'],
      `${tally}`,
    );
  assert.ok(tally.sockets >= 5 && tally.sockets <= 6, `${tally}`);
  await assertAccessible(page, 'five results');
  // The browser fetched the results itself, in ranges (206), never the page with a bearer token.
  const results = api.filter((r) => r.path.includes('/result'));
  assert.ok(results.length >= 5, `result requests: ${results.length}`);
  assert.ok(results.every((r) => r.status === 206 || r.status === 304 || r.status === 200));
  assert.ok(
    results.some((r) => r.status === 206),
    JSON.stringify(results),
  );

  // 3. A player seeks, and a Range request returns exactly those bytes of the file.
  const first = page.locator(`.job[data-job-id="${ids[0]}"]`);
  const audio = first.locator('audio');
  const to = (await audioDuration(audio)) / 2;
  assert.ok(Math.abs((await seekAudio(audio, to)) - to) < 0.5);
  const onDisk = await readFile(outputPathFor(svc.dataDir, userId, ids[0], 'ogg'));
  const src = (await audio.getAttribute('src')) ?? '';
  const part = await fetch(`${svc.baseUrl}${src}`, { headers: { range: 'bytes=100-1099' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1099/${onDisk.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), onDisk.subarray(100, 1100));

  // 4. Download links straight to the file, named for the person.
  const link = first.getByRole('link', { name: `Download ${up.body.upload.filename} result` });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.equal(
    download.suggestedFilename(),
    `${path.basename(up.body.upload.filename, '.wav')}-converted.ogg`,
  );
  assert.deepEqual(await readFile(await download.path()), onDisk);
  await page.context().close();
});

test('a result link works only as signed, for its owner, until it expires; without one the bearer token is needed', async () => {
  const owner = await ApiClient.anonymous(svc.baseUrl);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const up = await owner.upload(espeakSentence('en-us+m3'));
  const job = await owner.waitForJobEnd(
    (await owner.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 1 })).id,
  );
  assert.equal(job.state, 'completed');
  const link = job.resultUrl ?? '';
  assert.match(link, /\?exp=\d+&sig=/);
  // The WebSocket snapshot carries signed links too.
  const events = await owner.openEvents();
  const snapshot = events.messages.find((m) => m.type === 'snapshot') as unknown as {
    jobs: { id: string; resultUrl: string }[];
  };
  events.close();
  assert.match(snapshot.jobs.find((j) => j.id === job.id)?.resultUrl ?? '', /\?exp=\d+&sig=[\w-]+$/);
  const get = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${svc.baseUrl}${url}`, { headers }).then(async (r) => ({
      status: r.status,
      type: r.headers.get('content-type'),
      body: r.status < 300 ? undefined : ((await r.json()) as { error: string; message: string }),
    }));
  assert.deepEqual(await get(link), { status: 200, type: 'audio/wav', body: undefined });
  const ownerId = owner.session?.userId ?? '';
  // The service's own key (DATA_DIR/result-link-secret), to make expired and misdirected links.
  const links = new ResultLinks(
    Buffer.from((await readFile(path.join(svc.dataDir, 'result-link-secret'), 'utf8')).trim()),
    3600,
  );
  const forbidden = [
    link.replace(/sig=([\w-])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
    link.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 1}`),
    links.url(job.id, ownerId, Date.now() - (links.ttlSec + 5) * 1000),
    links.url(job.id, other.session?.userId ?? ''),
  ];
  for (const url of forbidden) {
    const r = await get(url);
    assert.equal(r.status, 403, url);
    assert.equal(r.body?.error, 'VC_ERR_FORBIDDEN');
    assert.doesNotMatch(r.body?.message ?? '', /\/[\w.-]+\//);
  }
  const plain = `/api/jobs/${job.id}/result`;
  assert.equal((await get(plain)).status, 401);
  assert.equal((await get(plain, other.headers())).status, 404);
  assert.equal((await get(plain, owner.headers())).status, 200);
});

test('GET /api/jobs pages with a cursor (no silent stop at 50), filters by state, and returns the settings used', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const up = await user.upload(espeakSentence('en-us+m3'));
  const events = await user.openEvents();
  const made: string[] = [];
  for (let i = 0; i < 7; i++)
    made.push(
      (await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: i - 3 })).id,
    );
  // 1. Pages of three, newest first, each job once, until nextCursor is null.
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await user.request('GET', `/api/jobs?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.jobs.length <= 3);
    seen.push(...res.body.jobs.map((j: { id: string }) => j.id));
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor && pages < 10);
  assert.deepEqual(seen, [...made].reverse());
  // 2. The view says what was asked for.
  const first = (await user.request('GET', `/api/jobs?limit=1`)).body.jobs[0];
  assert.equal(first.pitchSemitones, 3);
  assert.equal(first.strength, null, 'a pitch-only job has no strength');
  assert.ok(first.durationSec > 1);
  // 3. A state filter, and bad queries refused by name.
  for (const id of made) await events.waitFor((m) => m.jobId === id && m.type === 'completed');
  events.close();
  const done = await user.request('GET', '/api/jobs?state=completed,failed&limit=100');
  assert.equal(done.body.jobs.length, 7);
  assert.equal((await user.request('GET', '/api/jobs?state=queued')).body.jobs.length, 0);
  for (const q of ['limit=0', 'limit=101', 'state=done', 'cursor=../../x']) {
    const r = await user.request('GET', `/api/jobs?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error, 'VC_ERR_VALIDATION');
  }
});

test("a job's events that come before the page's own answer wait for it: no request per event, and the cards follow to the end", async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const events = await user.openEvents();
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  await page.locator('#usage').waitFor();
  const tally = new ApiTally();
  tally.watch(page);
  // 1. The answers to the page's POST /api/voices and /api/jobs reach it only once their job has
  //    ended: every event of the job comes first (as when a loaded API answers late).
  //    Held at the response stage by the DevTools protocol: the request reaches the API as sent.
  const held: string[] = [];
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Fetch.enable', {
    patterns: ['*/api/voices', '*/api/jobs'].map((urlPattern) => ({
      urlPattern,
      requestStage: 'Response' as const,
    })),
  });
  cdp.on('Fetch.requestPaused', (paused) => {
    const { requestId } = paused;
    void (async () => {
      if (paused.request.method === 'POST' && paused.responseStatusCode === 202) {
        const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId });
        const text = base64Encoded ? Buffer.from(body, 'base64').toString() : body;
        const { job } = JSON.parse(text) as { job: { id: string } };
        await events.waitFor((m) => m.jobId === job.id && m.type === 'completed', 60_000);
        held.push(job.id);
      }
      await cdp.send('Fetch.continueRequest', { requestId });
    })();
  });
  await page.fill('#voice-name', 'Held voice');
  await page.setInputFiles(
    '#voice-file',
    espeakSentence('en-us+f3', 'A reference voice whose answer is held until its analysis has ended.'),
  );
  await page.click('#clone-submit');
  await page
    .locator('#clone-status', { hasText: 'Voice "Held voice" is ready' })
    .waitFor({ timeout: 60_000 });
  await page.locator('#voices .voice[data-state="ready"]', { hasText: 'Held voice' }).waitFor();
  await page.setInputFiles('#file', espeakSentence('en-us+m3'));
  await page.click('#submit');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  await page.locator('.job[data-kind="convert"][data-state="completed"] audio.job-audio').waitFor();
  events.close();
  // 2. Neither job was asked for, nor the voices listed again: the answers named them.
  assert.equal(held.length, 2);
  const asked = [...tally.byStep.values()]
    .flat()
    .filter((r) => held.some((id) => r.endsWith(id)) || r === 'GET /api/voices');
  assert.deepEqual(asked, [], `${tally}`);
  await page.context().close();
});

test('a clone reads as a voice from its first event; both status lines follow their jobs to the end', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const api = recordApi(page);
  const tally = new ApiTally();
  tally.watch(page);
  await page.locator('#voice option', { hasText: 'Preset' }).first().waitFor({ state: 'attached' });
  // 1. Every text a job card's name ever shows is recorded, from the first one on.
  await page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document;
    const w = globalThis as unknown as { names: string[]; MutationObserver: new (cb: () => void) => unknown };
    w.names = [];
    const jobs = doc.querySelector('#jobs') as { querySelectorAll(s: string): { textContent: string }[] };
    const observer = new w.MutationObserver(() => {
      for (const el of jobs.querySelectorAll('.job-name')) w.names.push(el.textContent);
    }) as { observe(n: unknown, o: unknown): void };
    observer.observe(jobs, { subtree: true, childList: true, characterData: true });
  });
  await page.fill('#voice-name', 'My bright voice');
  await page.setInputFiles(
    '#voice-file',
    espeakSentence(
      'en-us+f3',
      'Hello, this is my reference voice. I am reading a few sentences so that the service can learn how I sound.',
    ),
  );
  await page.click('#clone-submit');
  await page
    .locator('#clone-status', { hasText: 'Voice "My bright voice" is ready' })
    .waitFor({ timeout: 60_000 });
  const card = page.locator('.job[data-kind="clone"]');
  assert.equal(await card.locator('.job-state').textContent(), 'ready');
  assert.equal(await card.locator('.job-result').isVisible(), false, 'a voice has no player or download');
  const names = await page.evaluate(() => (globalThis as unknown as { names: string[] }).names);
  assert.ok(names.length > 0);
  assert.deepEqual([...new Set(names)], ['Voice "My bright voice"']);
  const option = page.locator('#voice option:not([disabled])', { hasText: 'My bright voice' });
  await option.waitFor({ state: 'attached' });
  await assertAccessible(page, 'a voice cloned');

  // 1b. Renamed in the library: the clone's status line and its card read the new name, not the old.
  await page.getByRole('button', { name: 'Rename voice My bright voice' }).click();
  await page.getByLabel('New name for My bright voice').fill('Evening voice');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#voices .voice-name', { hasText: 'Evening voice' }).waitFor();
  await page.locator('#clone-status', { hasText: 'Voice "Evening voice" is ready' }).waitFor();
  assert.doesNotMatch((await page.locator('#clone-status').textContent()) ?? '', /My bright voice/);
  await card.locator('.job-name', { hasText: 'Voice "Evening voice"' }).waitFor();
  const renamed = page.locator('#voice option:not([disabled])', { hasText: 'Evening voice' });
  await renamed.waitFor({ state: 'attached' });

  // 2. A conversion with the new voice: the status line reaches "converted".
  await page.setInputFiles('#file', espeakSentence('en-us+m3'));
  await page.selectOption('#voice', { value: (await renamed.getAttribute('value')) ?? '' });
  await page.click('#submit');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });

  // 3. A long conversion, cancelled from its card: the status line says so.
  const long = path.join(dir, 'long.ogg');
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-stream_loop', '30', '-i', humanSpeech(1)],
    ...['-ac', '1', '-c:a', 'libvorbis', '-q:a', '0', long],
  ]);
  await page.setInputFiles('#file', long);
  await page.selectOption('#voice', '');
  await page.fill('#pitch', '3');
  await page.click('#submit');
  const longCard = page.locator('.job[data-kind="convert"]', { hasText: 'long.ogg' });
  await longCard
    .getByRole('button', { name: 'Cancel long.ogg' })
    .click()
    .catch(async (err) => {
      const refused = api.filter((r) => r.status >= 400).map((r) => `${r.method} ${r.path} ${r.status}`);
      throw new Error(
        `status "${await page.locator('#status').textContent()}", cards "${await page
          .locator('#jobs')
          .textContent()}", refused [${refused}], ${tally}: ${err}`,
      );
    });
  await page
    .locator('#status', { hasText: 'long.ogg: cancelled by you.' })
    .waitFor({ timeout: 10_000 })
    .catch(async (err) => {
      const state = await longCard.locator('.job-state').textContent();
      throw new Error(`status "${await page.locator('#status').textContent()}", card "${state}": ${err}`);
    });
  await longCard.locator('.job-state', { hasText: 'cancelled' }).waitFor();
  await assertAccessible(page, 'a job cancelled');

  // 4. After a reload the voice still reads as a voice, and nothing answered 404 along the way.
  await page.reload();
  await page.locator('.job[data-kind="clone"] .job-name', { hasText: 'Voice "Evening voice"' }).waitFor();
  assert.equal(await page.locator('.job[data-kind="clone"] .job-state').textContent(), 'ready');
  assert.deepEqual(
    api.filter((r) => r.status === 404),
    [],
  );
  await page.context().close();
});

test('limits come from the API and are checked before uploading; errors read without paths; a refused conversion keeps its upload for another try', async () => {
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', {
    name: 'limited',
    plan: 'pro',
    overrides: {
      quotas: { maxUploadBytes: 1024 * 1024, maxDurationSec: 20 },
      rateLimits: { conversions: { max: 2, windowSec: 3600 } },
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const key: string = created.body.apiKey;
  const user = new ApiClient(svc.baseUrl, { token: key, userId: created.body.user.id });
  // A voice of this user, ready before the page opens (a second tab will delete it).
  const events = await user.openEvents();
  const clone = await user.cloneVoiceBytes(
    await readFile(
      espeakSentence('en-us+f3', 'A short reference recording of my own voice, read slowly and clearly.'),
    ),
    'ref.wav',
    'Soon gone',
  );
  assert.equal(clone.status, 202, JSON.stringify(clone.body));
  await events.waitFor((m) => m.jobId === clone.body.job.id && m.type === 'completed');
  events.close();

  const page = await pageWithToken(browser, svc.baseUrl, key);
  const api = recordApi(page);
  const stored = () =>
    api.filter((r) => r.method === 'POST' && r.path === '/api/uploads' && r.status === 201).length;
  const uploads = () => api.filter((r) => r.method === 'POST' && r.path === '/api/uploads').length;

  // 1. The plan's limits stand beside the inputs, in human units.
  const limits = page.locator('#limits');
  await limits.filter({ hasText: '1 MB' }).waitFor();
  assert.match((await limits.textContent()) ?? '', /up to 1 MB and 20 s long.*2 conversions an hour/);

  // 2. Too large: refused in the browser, nothing is sent.
  const big = path.join(dir, 'big.wav');
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=220:sample_rate=48000', '-t', '12'],
    ...['-ac', '2', big],
  ]);
  await page.setInputFiles('#file', big);
  await page.click('#submit');
  await page
    .locator('#status', { hasText: 'big.wav is 2.2 MB; your plan accepts files up to 1 MB.' })
    .waitFor();
  assert.equal(uploads(), 0);

  // 3. A text file named .wav and a file that is too long: the API's reasons, without a path.
  const notes = path.join(dir, 'notes.wav');
  await writeFile(notes, 'these are my meeting notes, not audio\n'.repeat(20));
  await page.setInputFiles('#file', notes);
  await page.click('#submit');
  const status = page.locator('#status.error', { hasText: 'not a readable audio file' });
  await status.waitFor();
  assert.doesNotMatch((await status.textContent()) ?? '', /\/|file:|\.part/);
  const tooLong = path.join(dir, 'long-speech.flac');
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-stream_loop', '3', '-i', humanSpeech(1)],
    ...['-ac', '1', '-ar', '8000', '-t', '30', tooLong],
  ]);
  await page.setInputFiles('#file', tooLong);
  await page.click('#submit');
  await page.locator('#status.error', { hasText: 'the limit is 20 s' }).waitFor();
  await assertAccessible(page, 'a file refused as too long');

  // 4. The chosen voice is deleted in another tab: the upload (with its progress shown) succeeds,
  //    the conversion is refused, and the upload is kept and offered.
  const voiceOption = page.locator('#voice option:not([disabled])', { hasText: 'Soon gone' });
  await voiceOption.waitFor({ state: 'attached' });
  await page.selectOption('#voice', clone.body.voice.id);
  assert.equal((await user.request('DELETE', `/api/voices/${clone.body.voice.id}`)).status, 204);
  await page.evaluate(() => {
    const g = globalThis as unknown as {
      uploadValues: string[];
      document: { querySelector(s: string): { getAttribute(a: string): string } };
      MutationObserver: new (cb: () => void) => { observe(n: unknown, o: unknown): void };
    };
    g.uploadValues = [];
    const bar = g.document.querySelector('#upload-progress');
    new g.MutationObserver(() => g.uploadValues.push(bar.getAttribute('value'))).observe(bar, {
      attributes: true,
      attributeFilter: ['value'],
    });
  });
  const source = espeakSentence('en-us+m3');
  await page.setInputFiles('#file', source);
  await page.click('#submit');
  await page.locator('#status.error', { hasText: 'Conversion refused' }).waitFor();
  const values = await page.evaluate(
    () => (globalThis as unknown as { uploadValues: string[] }).uploadValues,
  );
  assert.equal(Math.max(...values.map(Number)), 1, `upload progress values ${values}`);
  assert.equal(
    await page.getByRole('progressbar', { name: 'Upload progress', includeHidden: true }).count(),
    1,
  );
  const kept = page.locator('#kept-upload');
  await kept.filter({ hasText: `${path.basename(source)} (` }).waitFor();
  await assertAccessible(page, 'a refused conversion keeps its upload');
  assert.equal(stored(), 1, JSON.stringify(api));
  const sent = uploads();

  // 5. Other settings, same upload: a preset voice, and the button converts without uploading again.
  await page.selectOption('#voice', 'preset-espeak-m3');
  await page.click('#submit');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  assert.equal(uploads(), sent);
  assert.equal(await kept.isVisible(), false);

  // 6. The conversion refused in step 4 gave its count back: one more is accepted. Then both
  //    conversions of the window are spent: the next one is refused before its upload.
  const third = espeakSentence('en-us+f3');
  await page.setInputFiles('#file', third);
  await page.click('#submit');
  await page
    .locator('#status', { hasText: `${path.basename(third)}: converted` })
    .waitFor({ timeout: 60_000 });
  assert.equal(uploads(), sent + 1);
  await page.setInputFiles('#file', espeakSentence('en-us+f3', 'One conversion too many for this hour.'));
  await page.click('#submit');
  await page
    .locator('#status.error', { hasText: 'You have used your 2 conversions an hour; try again in' })
    .waitFor();
  assert.equal(uploads(), sent + 1);

  // 7. A finished job's upload can be chosen again for other settings; removing it leaves only step 6's.
  await page.getByRole('button', { name: `Convert again: ${path.basename(source)}` }).click();
  await kept.filter({ hasText: path.basename(source) }).waitFor();
  await page.getByRole('button', { name: 'Remove this upload' }).click();
  await page.locator('#status', { hasText: 'was removed from your workspace' }).waitFor();
  const ws = await user.request('GET', '/api/workspace');
  const left = ws.body.files.filter((f: { kind: string }) => f.kind === 'upload');
  assert.equal(left.length, 1, JSON.stringify(left));
  assert.equal(left[0].bytes, (await stat(third)).size);
  await page.context().close();
});

test('the workspace: older jobs on demand, settings and speed on each card, filters, delete a result, the voice library, usage; desktop and phone', async () => {
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', { name: 'busy', plan: 'pro' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const user = new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
  // 1. A cancelled job (the oldest), twenty-one finished conversions (one more than a page) and a voice.
  const up = await user.upload(espeakSentence('en-us+m3'));
  const events = await user.openEvents();
  const longFile = path.join(dir, 'filter-long.wav');
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'sine=f=220:d=120',
    '-ac',
    '1',
    longFile,
  ]);
  const cancelled = (
    await user.createJob({
      uploadId: (await user.upload(longFile)).body.upload.id,
      outputFormat: 'wav',
      pitchSemitones: 5,
    })
  ).id;
  assert.ok([200, 202].includes((await user.request('DELETE', `/api/jobs/${cancelled}`)).status));
  await user.waitForState(cancelled, 'cancelled');
  const ids: string[] = [];
  for (let i = 0; i < 21; i++)
    ids.push(
      (await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: i - 10 })).id,
    );
  const clone = await user.cloneVoiceBytes(
    await readFile(
      espeakSentence('en-us+f3', 'A short reference recording of my own voice, read slowly and clearly.'),
    ),
    'ref.wav',
    'Studio voice',
  );
  for (const id of [...ids, clone.body.job.id])
    await events.waitFor((m) => m.jobId === id && m.type === 'completed');
  events.close();

  const page = await pageWithToken(browser, svc.baseUrl, created.body.apiKey);
  const cards = page.locator('#jobs .job');
  // 2. A page of twenty, then the older ones on demand.
  await cards.nth(19).waitFor();
  assert.equal(await cards.count(), 20);
  await page.getByRole('button', { name: 'Show older jobs' }).click();
  await cards.nth(22).waitFor();
  assert.equal(await cards.count(), 23);
  assert.equal(await page.getByRole('button', { name: 'Show older jobs' }).count(), 0);
  // 3. The newest conversion says what it was asked for, when, and how fast it ran.
  const newest = page.locator(`.job[data-job-id="${ids[20]}"]`);
  assert.equal(await newest.locator('.job-settings').textContent(), 'pitch shift only · +10 semitones · WAV');
  assert.match(
    (await newest.locator('.job-meta').textContent()) ?? '',
    // Made moments ago: "just now", or a minute or two on a loaded machine that took long to seed.
    /^pitch shift only · \+10 semitones · WAV · (just now|[12] min ago) · took [\d.]+ s, [\d.]+× real time$/,
  );
  // 4. Filters.
  await page.selectOption('#job-filter', 'failed');
  await cards.first().waitFor({ state: 'detached' });
  assert.equal(await cards.count(), 0);
  await page.selectOption('#job-filter', 'completed');
  await cards.nth(21).waitFor();
  await page.selectOption('#job-filter', '');
  // The filter asks the server: after a reload (one page of twenty), the oldest job, cancelled, shows under its filter.
  await page.reload();
  await cards.nth(19).waitFor();
  await page.selectOption('#job-filter', 'cancelled');
  await page.locator(`.job[data-job-id="${cancelled}"]`).waitFor();
  assert.equal(await cards.count(), 1);
  await page.selectOption('#job-filter', '');
  await newest.waitFor();
  // 5. Deleting a result removes the file; its link then answers 404.
  const link = (await newest.locator('audio').getAttribute('src')) ?? '';
  await newest.getByRole('button', { name: `Delete result of ${up.body.upload.filename}` }).click();
  await newest.locator('.hint', { hasText: 'The result was deleted.' }).waitFor();
  assert.equal((await fetch(`${svc.baseUrl}${link}`)).status, 404);
  // 6. Usage against the plan, and the voice library.
  assert.match(
    (await page.locator('#usage').textContent()) ?? '',
    /^Workspace: [\d.]+ MB of 1024 GB, \d+ of 1000000 files, 0 of 100000 jobs waiting\.$/,
  );
  const voice = page.locator('#voices .voice', { hasText: 'Studio voice' });
  assert.equal(await voice.locator('.voice-state').textContent(), 'ready');
  await assertAccessible(page, 'two pages of jobs, a result deleted');
  await page.screenshot({ path: path.join(dir, 'workspace.png'), fullPage: false });
  await page.getByRole('button', { name: 'Delete voice Studio voice' }).click();
  await voice.waitFor({ state: 'detached' });
  assert.equal((await user.request('GET', '/api/voices')).body.voices.length, 0);
  // 7. On a phone, a new job scrolls into view; the usage follows the new files.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.setInputFiles('#file', espeakSentence('en-us+m3'));
  await page.click('#submit');
  await page.locator('#status', { hasText: 'converted' }).waitFor({ timeout: 60_000 });
  const fresh = page.locator('#jobs .job').first();
  const box = await fresh.boundingBox();
  assert.ok(box && box.y >= 0 && box.y < 844, `the new job is at y=${box?.y}`);
  await page.screenshot({ path: path.join(dir, 'phone.png') });
  // The page reads the usage again once the job has ended: it shows the new upload and output.
  const files = (await user.request('GET', '/api/workspace')).body.usage.files;
  await page.locator('#usage', { hasText: `, ${files} of 1000000 files` }).waitFor({ timeout: 10_000 });
  await page.context().close();
});

test('the /admin dashboard: token once per tab, workers and threads per core, the queue; scale up and back, shown as applied', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${svc.baseUrl}/admin`);
  // 1. A wrong token is refused and asked for again; the right one opens the dashboard.
  await page.fill('#admin-token', 'not-the-admin-token-at-all');
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  await page.locator('.error', { hasText: 'That admin token was refused.' }).waitFor();
  await assertAccessible(page, 'admin token refused');
  await page.fill('#admin-token', ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  const worker = page.locator('.worker').first();
  await worker.waitFor();
  const workerId = (await worker.getAttribute('data-worker-id')) ?? '';
  const stats = await adminRequest(svc.baseUrl, 'GET', '/api/system/stats');
  const size: number = stats.body.workers.find((w: { id: string }) => w.id === workerId).size;
  const threads = worker.locator('.thread');
  assert.equal(await threads.count(), size);
  assert.match((await threads.first().textContent()) ?? '', /^core \d+: (idle|busy)$/);
  await page.locator('#queue', { hasText: 'completed' }).waitFor();
  // 2. Scale up by one, then back: each shown as applied, and the threads follow.
  for (const n of [size + 1, size]) {
    await page.fill('#scale-size', String(n));
    await page.getByRole('button', { name: 'Scale', exact: true }).click();
    await page.locator('#scale-status', { hasText: `Scale to ${n}: applied.` }).waitFor({ timeout: 30_000 });
    await worker.locator('.worker-size', { hasText: `size ${n}` }).waitFor();
    await threads.nth(n - 1).waitFor();
    await threads.nth(n).waitFor({ state: 'detached' });
  }
  await assertAccessible(page, 'dashboard after scaling');
  // 3. The token stays for the tab: a reload opens the dashboard at once.
  await page.reload();
  await page.locator('.worker').first().waitFor();
  await page.screenshot({ path: path.join(dir, 'dashboard.png') });
  await context.close();
});
