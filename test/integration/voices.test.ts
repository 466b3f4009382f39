import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { median, yinPitch } from '../helpers/audio-metrics.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { decodePcm, durationOf, espeakSentence, humanSpeech } from '../helpers/fixtures.js';
import { processesMatching, waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
});

const REFERENCE_TEXT =
  'Hello, this is my reference voice. I am reading a few sentences so that the service can learn how I sound.';

function medianF0(file: string): number {
  return median(yinPitch(decodePcm(file, 16000), 16000));
}

async function cloneVoice(client: ApiClient, file: string, name: string): Promise<string> {
  const form = new FormData();
  form.append('name', name);
  form.append('file', new Blob([execFileSync('cat', [file])]), path.basename(file));
  const res = await fetch(`${svc.baseUrl}/api/voices`, {
    method: 'POST',
    headers: client.headers(),
    body: form,
  });
  const body = (await res.json()) as Json;
  assert.equal(res.status, 202, JSON.stringify(body));
  assert.equal(body.voice.state, 'pending');
  assert.equal(body.job.kind, 'clone');
  let state = '';
  await waitUntil(
    async () => {
      state = (await client.request('GET', `/api/voices/${body.voice.id}`)).body.voice.state;
      return state !== 'pending';
    },
    30_000,
    'the clone job',
  );
  assert.equal(state, 'ready');
  // The clone job's view says what it is: the voice it made, no downloadable result.
  const cloneJob = await client.job(body.job.id);
  assert.equal(cloneJob.kind, 'clone');
  assert.equal(cloneJob.voiceId, body.voice.id);
  assert.equal(cloneJob.filename, name);
  assert.equal(cloneJob.resultUrl, null);
  assert.equal((await client.download(body.job.id)).status, 404);
  return body.voice.id;
}

test('clone a low voice, convert a higher human speaker toward it: the pitch lands on the target', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const reference = espeakSentence('en-us+m3', REFERENCE_TEXT);
  const voiceId = await cloneVoice(client, reference, 'Deep voice');

  const list = await client.request('GET', '/api/voices');
  assert.deepEqual(
    list.body.voices.map((v: { id: string }) => v.id),
    [voiceId],
  );
  assert.ok(list.body.presets.some((p: { id: string }) => p.id === 'preset-espeak-m3'));

  // Source: real human speech, a higher voice than the target (medians differ by well over 30%).
  const source = humanSpeech(1);
  const targetF0 = medianF0(reference);
  const sourceF0 = medianF0(source);
  assert.ok(sourceF0 / targetF0 > 1.3, `pair differs enough: ${sourceF0} → ${targetF0}`);
  const up = await client.upload(source);
  const events = await client.openEvents();
  const job = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    voiceId,
    strength: 1,
  });
  await events.waitFor((m) => m.type === 'completed' && m.jobId === job.id, 60_000);
  const stages = new Set(events.forJob(job.id).map((m) => m.stage));
  assert.ok(stages.has('analysing') && stages.has('converting'), [...stages].join(','));
  events.close();

  const done = await client.job(job.id);
  assert.equal(done.kind, 'convert');
  assert.equal(done.voiceId, voiceId);
  assert.equal(done.uploadId, up.body.upload.id);
  const res = await client.download(job.id);
  assert.equal(res.status, 200);
  const out = path.join(os.tmpdir(), `vcfarm-voice-${process.pid}.wav`);
  await writeFile(out, res.bytes);
  assert.ok(
    Math.abs(durationOf(out) - durationOf(source)) < 0.02,
    `duration ${durationOf(out)} vs ${durationOf(source)}`,
  );
  const outF0 = medianF0(out);
  assert.ok(
    Math.abs(outF0 / targetF0 - 1) < 0.05,
    `output F0 ${outF0.toFixed(1)} Hz vs target ${targetF0.toFixed(1)} Hz`,
  );
});

/** The stored profile of a clone: the only `<id>.profile.json` under the data dir. */
async function storedProfile(voiceId: string): Promise<string> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name === `${voiceId}.profile.json`) found.push(p);
    }
  };
  await walk(svc.dataDir);
  assert.equal(found.length, 1, `profile files for ${voiceId}: ${found.join(', ')}`);
  return found[0];
}

test('a clone stores formants, envelope statistics and an exemplar bank, no codebook (~28 KB besides the bank); a profile from the older model is refused', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const voiceId = await cloneVoice(client, humanSpeech(1), 'Human voice');
  const file = await storedProfile(voiceId);
  const profile = JSON.parse(await readFile(file, 'utf8'));
  // 1. The new fields, sized as documented: F1 < F2 < F3, the voiced and unvoiced frames' envelope means
  // [2][24] and covariance roots [2][24][24], ~28 KB; no k-means codebook (nothing reads it).
  const [f1, f2, f3] = profile.formants;
  assert.ok(f1 > 150 && f1 < f2 && f2 < f3 && f3 < 5000, `formants ${profile.formants}`);
  assert.equal(profile.codebook, undefined);
  assert.equal(profile.envelopeMean.length, 2 * 24);
  assert.equal(profile.envelopeRoot.length, 2 * 24 * 24);
  assert.equal(profile.envelopeInverseRoot.length, 2 * 24 * 24);
  // The frames each class's statistics rest on (how far a short source is moved toward the prior).
  assert.ok(
    profile.envelopeFrames.length === 2 && profile.envelopeFrames.every((n: number) => n >= 50),
    `envelopeFrames ${profile.envelopeFrames}`,
  );
  // The exemplar bank the default model asks for (analysis.envelopeExemplars): rows [class, c1..c24] of the
  // clone's frames, at most 2,048 (about 165 bytes of JSON a row); the rest of the profile ~28 KB.
  const { envelopeExemplars: bank, ...rest } = profile;
  const rows = bank.length / 25;
  assert.ok(Number.isInteger(rows) && rows >= 50 && rows <= 2048, `exemplar rows ${rows}`);
  assert.ok(
    JSON.stringify(rest).length < 32_000,
    `profile without its bank ${JSON.stringify(rest).length} bytes`,
  );
  const size = (await stat(file)).size;
  assert.ok(size < 32_000 + rows * 200, `profile is ${size} bytes for ${rows} exemplar rows`);

  // 2. The same voice as the previous model stored it (no envelope statistics): the job fails with a
  // code and a message that says what to do, and no output is left. (Profiles without formants, from the
  // model before it, and profiles that still carry a codebook: test/engine/robustness.test.ts.)
  const {
    envelopeMean: _m,
    envelopeRoot: _r,
    envelopeInverseRoot: _i,
    envelopeFrames: _f,
    ...older
  } = profile;
  await writeFile(file, JSON.stringify(older));
  const up = await client.upload(humanSpeech(1));
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', voiceId });
  let view: Json = {};
  await waitUntil(
    async () => {
      view = (await client.request('GET', `/api/jobs/${job.id}`)).body.job;
      return view.state === 'failed' || view.state === 'completed';
    },
    60_000,
    'the conversion with an older profile',
  );
  assert.equal(view.state, 'failed', JSON.stringify(view));
  assert.equal(view.error.code, 'VC_ERR_VOICE_PROFILE');
  assert.match(view.error.message, /clone the voice again/);
  assert.doesNotMatch(view.error.message, /\/tmp|\/work|dataDir/);
  assert.equal((await client.download(job.id)).status, 404);
});

test('a preset voice converts low → high, and bad voice requests are refused', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const source = espeakSentence('en-us+m3', REFERENCE_TEXT);
  const up = await client.upload(source);
  const job = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'flac',
    voiceId: 'preset-espeak-f3',
  });
  assert.equal((await client.waitForJob(job.id, 60_000)).state, 'completed');
  const out = path.join(os.tmpdir(), `vcfarm-preset-${process.pid}.flac`);
  await writeFile(out, (await client.download(job.id)).bytes);
  // The preset was made from espeak-ng's en-us+f3 voice (scripts/build-presets.ts).
  const target = medianF0(espeakSentence('en-us+f3', REFERENCE_TEXT));
  assert.ok(target / medianF0(source) > 1.3);
  assert.ok(Math.abs(medianF0(out) / target - 1) < 0.05, `F0 ${medianF0(out)} vs ${target}`);

  const models = await client.request('GET', '/api/models');
  assert.equal(models.body.models[0].name, 'default');
  assert.equal(models.body.models[0].isDefault, true);

  const unknown = await client.request('POST', '/api/jobs', {
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    voiceId: 'preset-nobody',
  });
  assert.equal(unknown.status, 404);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const theirs = await cloneVoice(other, espeakSentence('en-us+m1', REFERENCE_TEXT), 'Theirs');
  const foreign = await client.request('POST', '/api/jobs', {
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    voiceId: theirs,
  });
  assert.equal(foreign.status, 404);
  assert.equal((await client.request('GET', `/api/voices/${theirs}`)).status, 404);
  assert.equal((await client.request('DELETE', `/api/voices/${theirs}`)).status, 404);
  const noVoice = await client.request('POST', '/api/jobs', {
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    strength: 0.5,
  });
  assert.equal(noVoice.status, 400);
  const badModel = await client.request('POST', '/api/jobs', {
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    model: 'nope',
  });
  assert.equal(badModel.status, 404);

  // A reference shorter than 3 s: refused, nothing kept.
  const short = path.join(os.tmpdir(), `vcfarm-short-${process.pid}.wav`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', source, '-t', '1', short]);
  const form = new FormData();
  form.append('name', 'Too short');
  form.append('file', new Blob([execFileSync('cat', [short])]), 'short.wav');
  const res = await fetch(`${svc.baseUrl}/api/voices`, {
    method: 'POST',
    headers: client.headers(),
    body: form,
  });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as Json).message, /3-60 s/);
  const voicesDir = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'voices');
  assert.deepEqual(await readdir(voicesDir).catch(() => []), []);

  // Deleting the other user's voice by its owner works and removes its files.
  assert.equal((await other.request('DELETE', `/api/voices/${theirs}`)).status, 204);
  assert.equal((await other.request('GET', `/api/voices/${theirs}`)).status, 404);
});

test('cancelling a voice conversion during inference leaves the worker alive and nothing behind', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(20));
  const events = await client.openEvents();
  const job = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'mp3',
    voiceId: 'preset-espeak-f3',
  });
  await events.waitFor(
    (m) => m.type === 'progress' && m.jobId === job.id && m.stage === 'converting',
    60_000,
  );
  const res = await client.request('DELETE', `/api/jobs/${job.id}`);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.job.state, 'active');
  await events.waitFor((m) => m.type === 'cancelled' && m.jobId === job.id);
  assert.equal((await client.job(job.id)).state, 'cancelled');
  assert.deepEqual(processesMatching(up.body.upload.id), []);
  assert.deepEqual(processesMatching(job.id), []);
  events.close();
  assert.equal(svc.workers[0].process.exitCode, null);
  // Cancelled the moment it is created, i.e. while a lane is taking it: it must never run on.
  for (let i = 0; i < 5; i++) {
    const next = await client.createJob({
      uploadId: up.body.upload.id,
      outputFormat: 'wav',
      voiceId: 'preset-espeak-f3',
      strength: 0.5,
    });
    assert.equal((await client.request('DELETE', `/api/jobs/${next.id}`)).status < 300, true);
    const ended = await client.waitForJob(next.id, 30_000);
    const trail = svc.workers[0].logs.filter((l) => l.jobId === next.id);
    assert.equal(ended.state, 'cancelled', JSON.stringify({ ended, trail }));
  }
  const outputs = await readdir(
    path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'outputs'),
  );
  assert.deepEqual(outputs, []);
});

test('a reference followed by an unknown multipart field is refused and leaves no voice or file behind', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const form = new FormData();
  form.append('name', 'Extra field');
  form.append(
    'file',
    new Blob([execFileSync('cat', [espeakSentence('en-us+m3', REFERENCE_TEXT)])]),
    'ref.wav',
  );
  form.append('colour', 'blue');
  const res = await fetch(`${svc.baseUrl}/api/voices`, {
    method: 'POST',
    headers: client.headers(),
    body: form,
  });
  const body = (await res.json()) as Json;
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error, 'VC_ERR_VALIDATION');
  assert.deepEqual((await client.request('GET', '/api/voices')).body.voices, []);
  assert.deepEqual((await client.request('GET', '/api/workspace')).body.files, []);
  const voicesDir = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'voices');
  assert.deepEqual(await readdir(voicesDir).catch(() => []), []);
});

test('a clone whose name breaks the rule is told so (a missing one is required); neither leaves a voice', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const bytes = await readFile(espeakSentence('en-us+f3', REFERENCE_TEXT));
  const bad = await client.cloneVoiceBytes(bytes, 'ref.wav', 'Me <script>');
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
  assert.equal(bad.body.error, 'VC_ERR_VALIDATION');
  assert.equal(bad.body.message, 'name must be 1-80 letters, digits, spaces or simple punctuation');
  const blank = await client.cloneVoiceBytes(bytes, 'ref.wav', '   ');
  assert.equal(blank.status, 400, JSON.stringify(blank.body));
  assert.match(blank.body.message, /^name is required/);
  assert.deepEqual((await client.request('GET', '/api/voices')).body.voices, []);
});

// Last in the file: it stops the worker, so that a conversion stays queued.
test('a voice a queued conversion needs cannot be deleted (409, like its upload) until the job is cancelled', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const voiceId = await cloneVoice(client, espeakSentence('en-us+m3', REFERENCE_TEXT), 'Needed');
  const up = await client.upload(espeakSentence('en-us+f3'));
  assert.equal(up.status, 201);
  // 1. No worker: the conversion toward the voice waits in the queue.
  await svc.workers[0].stop();
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', voiceId });
  assert.equal((await client.job(job.id)).state, 'queued');
  // 2. Neither the voice nor the upload can be deleted from under it; both stay as they were.
  for (const [what, url] of [
    ['voice', `/api/voices/${voiceId}`],
    ['upload', `/api/uploads/${up.body.upload.id}`],
  ]) {
    const refused = await client.request('DELETE', url);
    assert.equal(refused.status, 409, `${what}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error, 'VC_ERR_CONFLICT');
    assert.equal(refused.body.message, `a queued or running job uses this ${what}; cancel it first`);
    assert.equal((await client.request('GET', url)).status, 200);
  }
  assert.equal((await client.request('GET', `/api/voices/${voiceId}`)).body.voice.state, 'ready');
  assert.equal((await client.job(job.id)).state, 'queued');
  // 3. Once the job is cancelled, the voice goes.
  assert.equal((await client.request('DELETE', `/api/jobs/${job.id}`)).body.job.state, 'cancelled');
  assert.equal((await client.request('DELETE', `/api/voices/${voiceId}`)).status, 204);
  assert.equal((await client.request('GET', `/api/voices/${voiceId}`)).status, 404);
});
