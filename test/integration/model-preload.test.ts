import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { startService, type TestService } from '../helpers/service.js';

/**
 * Pool threads load the default model as they start (issue 16: a thread's first voice job no longer
 * waits for its ONNX Runtime sessions). The session count the worker reports is the threads' own,
 * before any job too, and a model folder changed after the load is what the next job runs, as when
 * each thread loaded the model on first use.
 */
const DEFAULT_DIR = fileURLToPath(new URL('../../../models/default', import.meta.url));
let svc: TestService;
let work: string;
let modelDir: string;
let workerUrl: string;

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-preload-'));
  modelDir = path.join(work, 'models', 'default');
  await cp(DEFAULT_DIR, modelDir, { recursive: true });
  const port = await freePort();
  svc = await startService({
    env: { MODELS_DIR: path.join(work, 'models'), POOL_SIZE: '1', WORKER_METRICS_PORT: String(port) },
  });
  await svc.workers[0].ready;
  workerUrl = `http://127.0.0.1:${port}`;
});
after(async () => {
  await svc?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function ortSessions(): Promise<number> {
  const text = await (await fetch(`${workerUrl}/metrics`)).text();
  const m = /^vcfarm_ort_sessions(?:\{[^}]*\})? (\d+)$/m.exec(text);
  assert.ok(m, 'vcfarm_ort_sessions in the worker metrics');
  return Number(m[1]);
}

/** Waits until the worker reports `n` sessions (the load runs in the pool thread, after start). */
async function sessionsReach(n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let seen = await ortSessions();
  while (seen !== n) {
    assert.ok(Date.now() < deadline, `vcfarm_ort_sessions ${seen}, expected ${n}`);
    await sleep(100);
    seen = await ortSessions();
  }
}

test('a pool thread holds the default model before any job; a folder changed since is what the next job runs', async () => {
  const manifest = await readFile(path.join(modelDir, 'model.json'), 'utf8');
  const graphs = Object.keys(JSON.parse(manifest).graphs).length;

  // 1. No job has run: the thread has loaded the default model's graphs, one session each.
  await sessionsReach(graphs);

  // 2. A voice job runs on it, and says how it went to its first audio.
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(1));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const settings = { uploadId: up.body.upload.id, outputFormat: 'mp3', voiceId: 'preset-espeak-m3' };
  const first = await client.createJob(settings);
  assert.equal((await client.waitForJob(first.id)).state, 'completed');
  const line = svc.workers[0].logs.find((l) => l.msg === 'conversion completed' && l.jobId === first.id);
  const steps = (line?.firstAudio as { steps: Record<string, number[]> } | undefined)?.steps ?? {};
  for (const step of ['engine', 'headRead', 'analysed', 'firstBlock', 'firstWrite'])
    assert.equal(steps[step]?.length, 3, `step ${step} in ${JSON.stringify(line?.firstAudio)}`);
  assert.equal(await ortSessions(), graphs, 'the job used the loaded sessions');

  // 3. The folder changes in place in a way only loading the graphs shows: the next job loads it
  // again (not the sessions loaded at start) and fails with the reason.
  const broken = JSON.parse(manifest);
  broken.graphs.shift.inputs[0].dtype = 'int64';
  await writeFile(path.join(modelDir, 'model.json'), JSON.stringify(broken));
  const failed = await client.waitForJob((await client.createJob(settings)).id);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error?.code, 'VC_ERR_MODEL_MANIFEST');
  assert.match(failed.error?.message ?? '', /graph "shift" input "audio": manifest says dtype int64/);
  await sessionsReach(0);

  // 4. Fixed in place: the next job loads it once more and runs; the old sessions were released.
  await writeFile(path.join(modelDir, 'model.json'), manifest);
  const fixed = await client.createJob(settings);
  assert.equal((await client.waitForJob(fixed.id)).state, 'completed');
  assert.equal(await ortSessions(), graphs);
});
