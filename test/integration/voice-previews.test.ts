import assert from 'node:assert/strict';
import { copyFile, cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { adminRequest } from '../helpers/admin.js';
import { assertAccessible, audioDuration, pageWithToken } from '../helpers/browser.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { durationOf, espeakSentence } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import type { TestService } from '../helpers/service.js';

// Preset previews: a few seconds of speech per preset voice, built with the model
// (`npm run build:previews`), served with Range support to any signed-in user from signed links,
// and played beside each preset in the page; a user's own voice previews as its reference
// recording, for its owner only.

const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));

let bench: PageBench;
let svc: TestService;
let browser: Browser;
let dir: string;
before(async () => {
  bench = await startPageBench('previews');
  ({ svc, browser, dir } = bench);
});
after(async () => {
  await bench?.close();
});

test('every preset the model ships has a current preview: a few seconds of Opus, served with Range to any signed-in user', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const list = await user.request('GET', '/api/voices');
  assert.equal(list.status, 200);
  const presets = list.body.presets as Json[];
  // Whatever presets the build produced: each one (none hard-coded here) has its preview.
  const onDisk = (await readdir(path.join(MODEL_DIR, 'voices'))).filter((f) => f.endsWith('.json'));
  assert.equal(presets.filter((p) => p.model === 'default').length, onDisk.length);
  for (const p of presets) {
    assert.match(
      p.previewUrl ?? '',
      /^\/api\/voices\/preset-[\w-]+\/preview\?model=[\w-]+&user=u_\w+&exp=\d+&sig=[\w-]+$/,
      `${p.id} has a preview (npm run build:previews)`,
    );
    // 1. The whole file: Opus in Ogg, a few seconds long (measured by ffprobe), small.
    const res = await fetch(`${svc.baseUrl}${p.previewUrl}`);
    assert.equal(res.status, 200, p.id);
    assert.equal(res.headers.get('content-type'), 'audio/ogg');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.ok(bytes.length > 2000 && bytes.length < 100_000, `${p.id}: ${bytes.length} bytes`);
    const file = path.join(dir, `${p.id}.ogg`);
    await writeFile(file, bytes);
    const seconds = durationOf(file);
    assert.ok(seconds >= 2 && seconds <= 8, `${p.id}: ${seconds} s`);
    // 2. A range is exactly those bytes.
    const part = await fetch(`${svc.baseUrl}${p.previewUrl}`, { headers: { range: 'bytes=100-1099' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 1100));
  }
  const first = presets[0];
  // 3. With the bearer token too, for any signed-in user; not without one.
  const viaToken = await other.request('GET', `/api/voices/${first.id}/preview`);
  assert.equal(viaToken.status, 200);
  const anon = await fetch(`${svc.baseUrl}/api/voices/${first.id}/preview`);
  assert.equal(anon.status, 401);
  assert.equal(((await anon.json()) as Json).error, 'VC_ERR_UNAUTHORIZED');
  // 4. A link altered (another voice, another user, a later expiry) is refused; bad input is a coded 4xx.
  const second = presets[1];
  const moved = first.previewUrl.replace(`/voices/${first.id}/`, `/voices/${second.id}/`);
  const later = first.previewUrl.replace(/exp=(\d+)/, (_: string, e: string) => `exp=${Number(e) + 60}`);
  const otherUser = first.previewUrl.replace(/user=u_\w+/, `user=${other.session?.userId}`);
  for (const url of [moved, later, otherUser]) {
    const r = await fetch(`${svc.baseUrl}${url}`);
    assert.equal(r.status, 403, url);
    assert.equal(((await r.json()) as Json).error, 'VC_ERR_FORBIDDEN');
  }
  for (const [url, status, code] of [
    [`/api/voices/preset-no-such-voice/preview`, 404, 'VC_ERR_NOT_FOUND'],
    [`/api/voices/${first.id}/preview?model=no-such-model`, 404, 'VC_ERR_NOT_FOUND'],
    [`/api/voices/${first.id}/preview?model=../../etc`, 400, 'VC_ERR_VALIDATION'],
    [`/api/voices/${first.id}/preview?sig=abc`, 400, 'VC_ERR_VALIDATION'],
    [`/api/voices/${first.id}/preview?colour=blue`, 400, 'VC_ERR_VALIDATION'],
  ] as const) {
    const r = await user.request('GET', url);
    assert.equal(r.status, status, url);
    assert.equal(r.body.error, code, url);
    assert.doesNotMatch(r.body.message, /\/(tmp|work|home|models|data)\//, 'no server path');
  }
  const outside = await fetch(`${svc.baseUrl}${first.previewUrl}`, { headers: { range: 'bytes=999999-' } });
  assert.equal(outside.status, 416);
  assert.equal(((await outside.json()) as Json).error, 'VC_ERR_RANGE_NOT_SATISFIABLE');
  assert.match(outside.headers.get('content-range') ?? '', /^bytes \*\/\d+$/);
});

test('in the page: a player beside each preset and the chosen voice; one plays; one’s own voice previews its recording, for its owner only', async () => {
  // A pro user: waiting for the clone and the page together may pass an anonymous user's API limit (config/plans.json).
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', {
    name: 'previews',
    plan: 'pro',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const user = new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
  const other = await ApiClient.anonymous(svc.baseUrl);
  const reference = await readFile(
    espeakSentence(
      'en-us+f3',
      'A reference recording, long enough for a voice: three seconds or more of speech.',
    ),
  );
  const clone = await user.cloneVoiceBytes(reference, 'desk.wav', 'Desk voice');
  assert.equal(clone.status, 202);
  const voiceId = clone.body.voice.id as string;
  assert.equal((await user.waitForJob(clone.body.job.id)).state, 'completed');

  // 1. The owner's voice previews as its reference recording; another user gets a 404, and the link does not pass for them.
  const mine = await user.request('GET', `/api/voices/${voiceId}`);
  const ownUrl = mine.body.voice.previewUrl as string;
  const own = await fetch(`${svc.baseUrl}${ownUrl}`);
  assert.equal(own.status, 200);
  assert.deepEqual(Buffer.from(await own.arrayBuffer()), reference, 'the recording as it was sent');
  const theirs = await other.request('GET', `/api/voices/${voiceId}/preview`);
  assert.equal(theirs.status, 404);
  assert.equal(theirs.body.error, 'VC_ERR_NOT_FOUND');
  const stolen = await fetch(
    `${svc.baseUrl}${ownUrl.replace(/user=u_\w+/, `user=${other.session?.userId}`)}`,
  );
  assert.equal(stolen.status, 403);

  // 2. The page: a player per preset in the voice library; the picker shows the chosen voice's.
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const presetPlayers = page.locator('#presets .preset audio.voice-preview');
  await presetPlayers.first().waitFor({ timeout: 20_000 });
  const presets = (await user.request('GET', '/api/voices')).body.presets as Json[];
  assert.equal(await presetPlayers.count(), presets.length);
  await page.locator('#voices .voice audio.voice-preview').first().waitFor();
  await page.selectOption('#voice', presets[0].id);
  const picked = page.locator('#voice-preview audio.voice-preview');
  await picked.waitFor();
  assert.equal(await picked.getAttribute('aria-label'), `Preview of voice ${presets[0].displayName}`);
  // Each preset by the human name and the line its preset file gives (read here from the files),
  // in the picker, beside the chosen one and in the library.
  for (const p of presets) {
    const file = JSON.parse(await readFile(path.join(MODEL_DIR, 'voices', `${p.name}.json`), 'utf8'));
    assert.ok(file.displayName && file.description, `${p.name}: the preset build gives it names`);
    assert.equal(p.displayName, file.displayName);
    assert.equal(p.description, file.description);
    assert.notEqual(p.displayName, p.name);
    const option = page.locator(`#voice option[value="${p.id}"]`);
    assert.equal(await option.textContent(), `Preset: ${file.displayName} — ${file.description}`);
    const row = page.locator(`#presets .preset[data-preset="${p.id}"]`);
    assert.equal(await row.locator('.voice-name').textContent(), file.displayName);
    assert.equal(await row.locator('.voice-description').textContent(), file.description);
  }
  const beside = (await page.locator('#voice-preview').textContent()) ?? '';
  assert.ok(beside.startsWith(`${presets[0].description}. Hear ${presets[0].displayName}`), beside);
  await assertAccessible(page, 'voice previews');

  // 3. It plays: metadata says a few seconds, and the playhead moves.
  const duration = await audioDuration(picked);
  assert.ok(duration >= 2 && duration <= 8, `preview duration ${duration}`);
  await picked.evaluate((a) => (a as unknown as { play(): Promise<void> }).play());
  const at = await picked.evaluate(
    (a) =>
      new Promise<number>((resolve) => {
        const el = a as unknown as { currentTime: number; addEventListener(t: string, f: () => void): void };
        el.addEventListener('timeupdate', () => el.currentTime > 0.3 && resolve(el.currentTime));
      }),
  );
  assert.ok(at > 0.3, `currentTime ${at}`);
  await page.context().close();
});

test('a rebuilt preset has no preview until the previews are built again (never an old one)', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  // A preset added to the model folder at run time, as a rebuild would: a copy of one with another name.
  const voices = path.join(MODEL_DIR, 'voices');
  const src = (await readdir(voices)).filter((f) => f.endsWith('.json')).sort()[0];
  const added = path.join(voices, 'zz-preview-test.json');
  await copyFile(path.join(voices, src), added);
  try {
    // The catalog re-reads a model folder within 5 s.
    let preset: Json;
    for (let i = 0; i < 100 && !preset; i++) {
      const list = await user.request('GET', '/api/voices');
      preset = (list.body.presets as Json[]).find((p) => p.id === 'preset-zz-preview-test');
      if (!preset) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(preset, 'the added preset is listed');
    assert.equal(preset.previewUrl, null);
    const r = await user.request('GET', '/api/voices/preset-zz-preview-test/preview');
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'VC_ERR_NOT_FOUND');
  } finally {
    await rm(added, { force: true });
  }
});

test('previews are keyed by the model too: a changed graph or manifest has none until rebuilt; bad preset names break the folder', async () => {
  const created = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', { name: 'key', plan: 'pro' });
  const user = new ApiClient(svc.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
  // A copy of the default folder, previews and all, added at run time as another model.
  const copy = path.join(MODEL_DIR, '..', 'zz-preview-key');
  await cp(MODEL_DIR, copy, { recursive: true });
  /** This model's presets as listed, once the catalog (which re-reads a folder within 5 s) agrees with `ok`. */
  const presetsWhen = async (ok: (presets: Json[] | undefined, model: Json | undefined) => boolean) => {
    for (let i = 0; i < 60; i++) {
      const [voices, models] = await Promise.all([
        user.request('GET', '/api/voices'),
        user.request('GET', '/api/models'),
      ]);
      const model = (models.body.models as Json[]).find((m) => m.name === 'zz-preview-key');
      const presets = (voices.body.presets as Json[]).filter((p) => p.model === 'zz-preview-key');
      if (ok(presets, model)) return { presets, model };
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('the catalog never showed the expected state');
  };
  try {
    // 1. Same bytes, same key: the copy's presets play their previews (the key is content, not place).
    const same = await presetsWhen((p) => (p?.length ?? 0) > 0);
    assert.ok(
      same.presets.every((p) => p.previewUrl !== null),
      JSON.stringify(same.presets),
    );
    // 2. A graph changed (one byte more, as a rebuilt model would differ): no preview, the route 404s.
    const shift = path.join(copy, 'shift.onnx');
    const graph = await readFile(shift);
    await writeFile(shift, Buffer.concat([graph, Buffer.from([0])]));
    const stale = await presetsWhen(
      (p) => (p?.length ?? 0) > 0 && p?.every((x) => x.previewUrl === null) === true,
    );
    const r = await user.request('GET', `/api/voices/${stale.presets[0].id}/preview?model=zz-preview-key`);
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'VC_ERR_NOT_FOUND');
    // 3. The graph as it was: the previews are current again. The manifest changed: gone again.
    await writeFile(shift, graph);
    await presetsWhen((p) => (p?.length ?? 0) > 0 && p?.every((x) => x.previewUrl !== null) === true);
    // The same manifest written with other spacing: other bytes, and any change counts.
    const manifest = JSON.parse(await readFile(path.join(copy, 'model.json'), 'utf8'));
    await writeFile(path.join(copy, 'model.json'), `${JSON.stringify(manifest, null, 1)}\n`);
    await presetsWhen((p) => (p?.length ?? 0) > 0 && p?.every((x) => x.previewUrl === null) === true);
    // 4. A preset file whose displayName is not one short line makes the folder broken, with the reason.
    const voices = path.join(copy, 'voices');
    const first = (await readdir(voices)).filter((f) => f.endsWith('.json')).sort()[0];
    const profile = JSON.parse(await readFile(path.join(voices, first), 'utf8'));
    await writeFile(path.join(voices, first), JSON.stringify({ ...profile, displayName: 'two\nlines' }));
    const broken = await presetsWhen((_p, m) => m?.state === 'broken');
    assert.match(broken.model?.error.message, new RegExp(`voices/${first}: displayName must be one line`));
    assert.doesNotMatch(broken.model?.error.message, /\/(tmp|work|home)\//, 'no server path');
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
});
