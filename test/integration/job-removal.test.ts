import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { outputPathFor } from '../../src/workspace/index.js';
import { adminRequest } from '../helpers/admin.js';
import { assertAccessible, pageWithToken } from '../helpers/browser.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { espeakSentence, humanSpeech } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import type { TestService } from '../helpers/service.js';

// Removing a finished job: `DELETE /api/jobs/:id/record` takes the job off the user's list and
// its result out of the workspace (owner only, finished jobs only, coded 4xx otherwise), and the
// job card's Remove button does the same in Chromium.

let bench: PageBench;
let svc: TestService;
let browser: Browser;
let dir: string;
before(async () => {
  bench = await startPageBench('job-removal');
  ({ svc, browser, dir } = bench);
});
after(async () => {
  await bench?.close();
});

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** A user of the pro plan: this test's requests would pass an anonymous user's API requests a minute. */
async function proUser(name: string): Promise<ApiClient> {
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', { name, plan: 'pro' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
}

function assertNoPath(body: Json, what: string) {
  assert.doesNotMatch(String(body.message), /\/(tmp|work|home|data|workspaces)\//, `${what}: no server path`);
}

test('DELETE /api/jobs/:id/record: a finished job and its result go, for the owner only; unfinished jobs and voices are refused', async () => {
  const owner = await proUser('remover');
  const other = await ApiClient.anonymous(svc.baseUrl);
  const ownerId = owner.session?.userId ?? '';
  const up = await owner.upload(espeakSentence('en-us+m3'));
  assert.equal(up.status, 201);
  const uploadId = up.body.upload.id as string;
  const done = await owner.waitForJobEnd((await owner.createJob({ uploadId, outputFormat: 'mp3' })).id);
  assert.equal(done.state, 'completed');
  const result = outputPathFor(svc.dataDir, ownerId, done.id, 'mp3');
  assert.ok(await exists(result), 'the result is on disk');
  const usedBefore = (await owner.request('GET', '/api/workspace')).body.usage.bytes as number;

  // 1. Another user, no token, bad queries: refused with a code, nothing removed.
  const theirs = await other.request('DELETE', `/api/jobs/${done.id}/record`);
  assert.equal(theirs.status, 404);
  assert.equal(theirs.body.error, 'VC_ERR_NOT_FOUND');
  const anonymous = await fetch(`${svc.baseUrl}/api/jobs/${done.id}/record`, { method: 'DELETE' });
  assert.equal(anonymous.status, 401);
  // The cancel route's old removal query (one route, two meanings) now only names the new route.
  for (const query of ['remove=1', 'remove=yes', 'remove=1&also=1']) {
    const r = await owner.request('DELETE', `/api/jobs/${done.id}?${query}`);
    assert.equal(r.status, 400, query);
    assert.equal(r.body.error, 'VC_ERR_VALIDATION', query);
    assertNoPath(r.body, query);
  }
  const moved = await owner.request('DELETE', `/api/jobs/${done.id}?remove=1`);
  assert.match(moved.body.message, /use DELETE \/api\/jobs\/:id\/record$/);
  assert.equal((await owner.request('GET', `/api/jobs/${done.id}`)).body.job.state, 'completed');
  assert.ok(await exists(result), 'still on disk after the refusals');

  // 2. The owner removes it: 204; the job, its place in the list, its result file and its link are
  // gone, and the owner's open sockets hear of it (a `removed` event); another user's do not.
  const ownerEvents = await owner.openEvents();
  const otherEvents = await other.openEvents();
  const removed = await owner.request('DELETE', `/api/jobs/${done.id}/record`);
  assert.equal(removed.status, 204, JSON.stringify(removed.body));
  await ownerEvents.waitFor((m) => m.type === 'removed' && m.jobId === done.id, 10_000);
  ownerEvents.close();
  assert.equal(await exists(result), false, 'the result file is removed');
  const gone = await owner.request('GET', `/api/jobs/${done.id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error, 'VC_ERR_NOT_FOUND');
  const list = await owner.request('GET', '/api/jobs?limit=100');
  assert.equal(
    (list.body.jobs as Json[]).some((j) => j.id === done.id),
    false,
  );
  const link = await fetch(`${svc.baseUrl}${done.resultUrl}`);
  assert.equal(link.status, 403, 'its signed link no longer plays');
  const usedAfter = (await owner.request('GET', '/api/workspace')).body.usage.bytes as number;
  assert.ok(usedAfter < usedBefore, `usage ${usedBefore} -> ${usedAfter} bytes`);
  const again = await owner.request('DELETE', `/api/jobs/${done.id}/record`);
  assert.equal(again.status, 404, 'removing twice: the second finds nothing');
  assert.equal(
    otherEvents.messages.some((m: Json) => m.jobId === done.id),
    false,
    "another user's socket hears nothing of it",
  );
  otherEvents.close();
  assert.equal((await owner.request('GET', `/api/uploads/${uploadId}`)).status, 200, 'the upload stays');

  // 3. A running job is refused (409) and keeps running; once cancelled it can be removed.
  const long = path.join(dir, 'long.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '40', '-i', humanSpeech(1), '-ac', '1', long]);
  const longUp = await owner.upload(long);
  const events = await owner.openEvents();
  const running = await owner.createJob({
    uploadId: longUp.body.upload.id,
    outputFormat: 'wav',
    pitchSemitones: 3,
  });
  await events.waitFor((m) => m.type === 'progress' && m.jobId === running.id, 60_000);
  const busy = await owner.request('DELETE', `/api/jobs/${running.id}/record`);
  assert.equal(busy.status, 409, JSON.stringify(busy.body));
  assert.equal(busy.body.error, 'VC_ERR_CONFLICT');
  assert.match(busy.body.message, /cancel it first/);
  assert.ok(['queued', 'active'].includes((await owner.job(running.id)).state), 'still running');
  assert.ok([200, 202].includes((await owner.request('DELETE', `/api/jobs/${running.id}`)).status));
  await events.waitFor((m) => m.type === 'cancelled' && m.jobId === running.id, 30_000);
  events.close();
  assert.equal((await owner.request('DELETE', `/api/jobs/${running.id}/record`)).status, 204);
  assert.equal((await owner.request('GET', `/api/jobs/${running.id}`)).status, 404);

  // 4. A job cancelled the moment it is made (while queued: kept as a tombstone; or just started) goes the same way.
  const queued = await owner.createJob({ uploadId, outputFormat: 'wav', pitchSemitones: 1 });
  await owner.request('DELETE', `/api/jobs/${queued.id}`);
  const ended = await owner.waitForJob(queued.id);
  assert.equal(ended.state, 'cancelled', JSON.stringify(ended));
  assert.equal((await owner.request('DELETE', `/api/jobs/${queued.id}/record`)).status, 204);
  assert.equal((await owner.request('GET', `/api/jobs/${queued.id}`)).status, 404);

  // 5. A voice's analysis is refused: the voice reads its state from it.
  const clone = await owner.cloneVoiceBytes(
    await readFile(
      espeakSentence('en-us+f3', 'A reference voice, read for a few seconds, slowly and clearly.'),
    ),
    'ref.wav',
    'Kept voice',
  );
  assert.equal(clone.status, 202);
  await owner.waitForJobEnd(clone.body.job.id);
  const voiceJob = await owner.request('DELETE', `/api/jobs/${clone.body.job.id}/record`);
  assert.equal(voiceJob.status, 409);
  assert.equal(voiceJob.body.error, 'VC_ERR_CONFLICT');
  assert.match(voiceJob.body.message, /delete the voice instead/);
  assert.equal((await owner.request('GET', `/api/voices/${clone.body.voice.id}`)).body.voice.state, 'ready');
});

test("in the page: Remove takes a finished job and its result off the list, in the user's other tabs too, and it stays gone after a reload", async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const userId = user.session?.userId ?? '';
  const up = await user.upload(espeakSentence('en-us+m3'));
  const kept = await user.waitForJobEnd(
    (await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' })).id,
  );
  const doomed = await user.waitForJobEnd(
    (await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'ogg', pitchSemitones: 2 })).id,
  );
  assert.equal(doomed.state, 'completed');
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const card = page.locator(`.job[data-job-id="${doomed.id}"]`);
  await card.waitFor();
  const usage = page.locator('#usage');
  await usage.waitFor();
  const usageBefore = await usage.textContent();
  await assertAccessible(page, 'a finished job with its Remove button');
  // Another tab of the same user, its live socket open (its snapshot received) before the removal.
  const tab2 = await page.context().newPage();
  const frames: string[] = [];
  const live = new Promise<void>((resolve) =>
    tab2.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        frames.push(String(f.payload));
        if (String(f.payload).includes('"type":"snapshot"')) resolve();
      }),
    ),
  );
  await tab2.goto(svc.baseUrl);
  const card2 = tab2.locator(`.job[data-job-id="${doomed.id}"]`);
  await card2.waitFor();
  await live;

  // 1. The button names the job and its result; the card goes, the other one stays.
  await card.getByRole('button', { name: `Remove job ${up.body.upload.filename} and its result` }).click();
  await card.waitFor({ state: 'detached' });
  await page.locator(`.job[data-job-id="${kept.id}"]`).waitFor();
  // The other tab drops the card too, without a reload, from the event on its socket.
  await card2.waitFor({ state: 'detached', timeout: 10_000 });
  await tab2.locator(`.job[data-job-id="${kept.id}"]`).waitFor();
  assert.ok(frames.some((f) => f.includes('"type":"removed"') && f.includes(doomed.id)));
  await page.waitForFunction(
    (before) =>
      (
        globalThis as unknown as { document: { querySelector(s: string): { textContent: string } } }
      ).document.querySelector('#usage').textContent !== before,
    usageBefore,
  );
  assert.equal(await exists(outputPathFor(svc.dataDir, userId, doomed.id, 'ogg')), false);
  assert.equal(await exists(outputPathFor(svc.dataDir, userId, kept.id, 'wav')), true);

  // 2. After a reload it is still gone, and the server agrees.
  await page.reload();
  await page.locator(`.job[data-job-id="${kept.id}"]`).waitFor();
  assert.equal(await page.locator(`.job[data-job-id="${doomed.id}"]`).count(), 0);
  assert.equal((await user.request('GET', `/api/jobs/${doomed.id}`)).status, 404);
  await page.context().close();
});
