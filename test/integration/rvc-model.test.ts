import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BuiltModel } from '../../models/builder/built-model.js';
import { rvcPreset } from '../../models/builder/rvc-folder.js';
import { buildRvcTestModel } from '../../models/builder/rvc-test-model.js';
import { writeModel } from '../../models/builder/write-model.js';
import { writeWav } from '../helpers/audio-io.js';
import { median, yinPitch } from '../helpers/audio-metrics.js';
import { ApiClient } from '../helpers/client.js';
import { decodePcm } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

// A model folder with the exact RVC v2 export signatures (in-house graphs, trivial weights: see
// models/builder/rvc-test-model.ts), added to MODELS_DIR while the service runs.

const DEFAULT_DIR = fileURLToPath(new URL('../../../models/default', import.meta.url));
let svc: TestService;
let modelsDir: string;
let work: string;

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-rvc-svc-'));
  modelsDir = path.join(work, 'models');
  await cp(DEFAULT_DIR, path.join(modelsDir, 'default'), { recursive: true });
  svc = await startService({ workers: 1, env: { MODELS_DIR: modelsDir } });
});
after(async () => {
  await svc?.close();
  await rm(work, { recursive: true, force: true });
});

/** A preset of the RVC model: a speaker id and, optionally, the speaker's median F0 (as `npm run rvc:folder` writes). */
const preset = (speakerId: number, f0Median: number | null) =>
  rvcPreset('vcfarm-rvc-test', speakerId, f0Median);

/** Writes a model folder elsewhere, then moves it into MODELS_DIR in one step (as an operator would). */
async function addModel(name: string, edit: (m: BuiltModel) => void = () => {}): Promise<void> {
  const model = buildRvcTestModel();
  edit(model);
  const staging = path.join(work, `staging-${name}`);
  await writeModel(model, staging);
  await mkdir(path.join(staging, 'voices'));
  await writeFile(path.join(staging, 'voices', 'alto.json'), JSON.stringify(preset(0, null)));
  await writeFile(path.join(staging, 'voices', 'tenor.json'), JSON.stringify(preset(1, 300)));
  await rename(staging, path.join(modelsDir, name));
}

async function toneFile(f0: number, seconds: number): Promise<string> {
  const file = path.join(work, `tone-${f0}.wav`);
  const pcm = Float32Array.from({ length: 44100 * seconds }, (_, i) => {
    let v = 0;
    for (let h = 1; h <= 6; h++) v += (0.2 / h) * Math.sin((2 * Math.PI * f0 * h * i) / 44100);
    return v;
  });
  await writeWav(file, pcm, 44100);
  return file;
}

/**
 * A sung note: `toneFile`'s harmonics around `f0` with a singer's vibrato (5.5 Hz, 3 %), whose pitch moves
 * as a voice's does (a steady tone is refused as a clone's reference: reference-check.ts); median F0 `f0`.
 */
async function sungNoteFile(f0: number, seconds: number): Promise<string> {
  const file = path.join(work, `sung-${f0}.wav`);
  const [rate, vibrato, depth] = [44100, 5.5, 0.03];
  const pcm = Float32Array.from({ length: rate * seconds }, (_, i) => {
    const t = i / rate;
    const phase =
      2 * Math.PI * f0 * (t - (depth * Math.cos(2 * Math.PI * vibrato * t)) / (2 * Math.PI * vibrato));
    let v = 0;
    for (let h = 1; h <= 6; h++) v += (0.2 / h) * Math.sin(h * phase);
    return v;
  });
  await writeWav(file, pcm, rate);
  return file;
}

async function uploadTone(client: ApiClient, f0: number, seconds: number): Promise<string> {
  const up = await client.upload(await toneFile(f0, seconds));
  assert.equal(up.status, 201);
  return up.body.upload.id;
}

const rms = (pcm: Float32Array): number => Math.sqrt(pcm.reduce((a, v) => a + v * v, 0) / pcm.length);

async function modelsByName(client: ApiClient): Promise<Map<string, Record<string, unknown>>> {
  const res = await client.request('GET', '/api/models');
  assert.equal(res.status, 200);
  return new Map(res.body.models.map((m: { name: string }) => [m.name, m]));
}

test('an RVC-signature folder added at run time is listed at once and serves jobs through the API', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  // 1. Only the default model at first.
  assert.deepEqual([...(await modelsByName(client)).keys()], ['default']);

  // 2. The folder is moved in; the very next listing has it, with both rates and its presets.
  await addModel('rvc-lab');
  const listed = (await modelsByName(client)).get('rvc-lab');
  assert.deepEqual(
    { ...listed, presets: undefined },
    {
      name: 'rvc-lab',
      title: 'vcfarm-rvc-test',
      sampleRate: 16000,
      outputSampleRate: 40000,
      isDefault: false,
      state: 'ready',
      error: null,
      presets: undefined,
    },
  );
  const voices = await client.request('GET', '/api/voices');
  const ids = JSON.stringify(voices.body);
  assert.ok(ids.includes('preset-alto') && ids.includes('preset-tenor'), ids);

  // 3. Two jobs: speaker 1 (median F0 300 Hz) as wav; speaker 0 one octave up as flac.
  const upload = await uploadTone(client, 200, 3);
  const tenor = await client.createJob({
    uploadId: upload,
    outputFormat: 'wav',
    model: 'rvc-lab',
    voiceId: 'preset-tenor',
  });
  const alto = await client.createJob({
    uploadId: upload,
    outputFormat: 'flac',
    model: 'rvc-lab',
    voiceId: 'preset-alto',
    pitchSemitones: 12,
  });
  const input = decodePcm(path.join(work, 'tone-200.wav'), 40000);
  for (const [job, f0, level] of [
    [tenor, 300, 0.5],
    [alto, 400, 1],
  ] as const) {
    const done = await client.waitForJob(job.id, 120_000);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    const file = path.join(work, `out-${job.id}`);
    await writeFile(file, (await client.download(job.id)).bytes);
    const out = decodePcm(file, 40000);
    assert.ok(Math.abs(out.length / input.length - 1) < 0.01, `length ${out.length} vs ${input.length}`);
    const pitch = median(yinPitch(out, 40000, { fmax: 900 }));
    assert.ok(Math.abs(pitch / f0 - 1) < 0.03, `F0 ${pitch}, expected ${f0}`);
    // The speaker id reaches the generator (speaker 1 is half as loud in this stand-in).
    const ratio = rms(out) / rms(input);
    assert.ok(Math.abs(ratio / level - 1) < 0.1, `level ${ratio}, expected ${level}`);
  }

  // 4. A voice cloned on the RVC model (its F0 tracker analyses the reference) is speaker 0 at the
  //    reference's median F0 (300 Hz: the stand-in restarts its sine every 10 ms, so F0s that
  //    100 Hz divides stay continuous). The reference is a sung note: a steady tone is no voice.
  const form = new FormData();
  form.append('name', 'Reference at 300 Hz');
  form.append('file', new Blob([await readFile(await sungNoteFile(300, 4))]), 'reference.wav');
  const res = await fetch(`${svc.baseUrl}/api/voices?model=rvc-lab`, {
    method: 'POST',
    headers: client.headers(),
    body: form,
  });
  assert.equal(res.status, 202);
  const clone = (await res.json()) as Json;
  assert.equal(clone.voice.model, 'rvc-lab');
  assert.equal((await client.waitForJob(clone.job.id, 60_000)).state, 'completed');
  const cloned = await client.createJob({
    uploadId: upload,
    outputFormat: 'wav',
    model: 'rvc-lab',
    voiceId: clone.voice.id,
  });
  assert.equal((await client.waitForJob(cloned.id, 60_000)).state, 'completed');
  const file = path.join(work, `out-${cloned.id}`);
  await writeFile(file, (await client.download(cloned.id)).bytes);
  const out = decodePcm(file, 40000);
  const pitch = median(yinPitch(out, 40000, { fmax: 900 }));
  assert.ok(Math.abs(pitch / 300 - 1) < 0.03, `F0 ${pitch}, expected 300`);
  assert.ok(Math.abs(rms(out) / rms(input) - 1) < 0.1, 'speaker 0 keeps the level');
});

test('a broken model folder is listed with its error (no server path), refused for jobs, and fixed at once', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const upload = await uploadTone(client, 200, 1);
  // 1. A manifest the API can see is wrong: frame inputs without a frame grid.
  await addModel('rvc-noframes', (m) => {
    delete m.manifest.frames;
  });
  const broken = (await modelsByName(client)).get('rvc-noframes') as Record<string, Json>;
  assert.equal(broken.state, 'broken');
  assert.equal(broken.error.code, 'VC_ERR_MODEL_BROKEN');
  assert.match(broken.error.message, /need "frames"/);
  assert.deepEqual(broken.presets, []);
  const refused = await client.request('POST', '/api/jobs', {
    uploadId: upload,
    outputFormat: 'wav',
    model: 'rvc-noframes',
    voiceId: 'preset-alto',
  });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error, 'VC_ERR_MODEL_BROKEN');

  // 2. A graph missing and a model.json that is not JSON: each named, without a server path.
  await addModel('rvc-nofile', (m) => {
    delete m.files['generator.onnx'];
  });
  await addModel('rvc-nojson');
  await writeFile(path.join(modelsDir, 'rvc-nojson', 'model.json'), '{"format": ');
  const models = await modelsByName(client);
  assert.equal(
    (models.get('rvc-nofile') as Json).error.message,
    'graph "generator": file generator.onnx is missing',
  );
  assert.equal((models.get('rvc-nojson') as Json).error.message, 'model.json is not valid JSON');
  const all = JSON.stringify([...models.values()]);
  for (const secret of [work, os.tmpdir(), svc.dataDir]) assert.ok(!all.includes(secret), all);

  // 3. Fixed in place: listed ready on the next request.
  await writeFile(
    path.join(modelsDir, 'rvc-noframes', 'model.json'),
    JSON.stringify(buildRvcTestModel().manifest),
  );
  assert.equal(((await modelsByName(client)).get('rvc-noframes') as Json).state, 'ready');
});

test('graphs that disagree with their manifest fail the job with a clear code, never the worker; the model is then listed broken', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const upload = await uploadTone(client, 200, 1);
  // The API cannot see this one (it never loads ONNX Runtime): the generator's pitch is int64.
  await addModel('rvc-mismatch', (m) => {
    m.manifest.graphs.generator.inputs[2].dtype = 'float32';
  });
  assert.equal(((await modelsByName(client)).get('rvc-mismatch') as Json).state, 'ready');
  const job = await client.createJob({
    uploadId: upload,
    outputFormat: 'wav',
    model: 'rvc-mismatch',
    voiceId: 'preset-alto',
  });
  const failed = await client.waitForJob(job.id, 60_000);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error?.code, 'VC_ERR_MODEL_MANIFEST');
  assert.equal(
    failed.error?.message,
    'model manifest: graph "generator" input "pitch": manifest says dtype float32, graph has int64',
  );
  assert.equal(failed.attempts ?? 1, 1);

  // The worker's report makes the listing say so, and new jobs are refused at once.
  const listed = (await modelsByName(client)).get('rvc-mismatch') as Json;
  assert.equal(listed.state, 'broken');
  assert.match(listed.error.message, /graph "generator" input "pitch"/);
  const refused = await client.request('POST', '/api/jobs', {
    uploadId: upload,
    outputFormat: 'wav',
    model: 'rvc-mismatch',
    voiceId: 'preset-alto',
  });
  assert.equal(refused.status, 409);

  // The same worker process is alive and serves the next job.
  assert.equal(svc.workers[0].process.exitCode, null);
  const ok = await client.createJob({
    uploadId: upload,
    outputFormat: 'wav',
    model: 'rvc-lab',
    voiceId: 'preset-alto',
  });
  assert.equal((await client.waitForJob(ok.id, 60_000)).state, 'completed');

  // Fixing the folder lifts the report (the folder changed), without a restart.
  await writeFile(
    path.join(modelsDir, 'rvc-mismatch', 'model.json'),
    JSON.stringify(buildRvcTestModel().manifest),
  );
  assert.equal(((await modelsByName(client)).get('rvc-mismatch') as Json).state, 'ready');
  const again = await client.createJob({
    uploadId: upload,
    outputFormat: 'wav',
    model: 'rvc-mismatch',
    voiceId: 'preset-alto',
  });
  assert.equal((await client.waitForJob(again.id, 60_000)).state, 'completed');
});

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies
type Json = any;
