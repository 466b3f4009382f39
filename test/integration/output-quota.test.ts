import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { hostileSilenceFlac, wideToneFlac } from '../helpers/fixtures.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { startService, type TestService } from '../helpers/service.js';

const QUOTA = 60_000_000;
let svc: TestService;
let dir: string;

before(async () => {
  // The fixtures are encoded (synchronously, by ffmpeg) before the in-process API starts: made
  // while it runs, they blocked its event loop for seconds on a loaded machine, and it shed the
  // next requests with 503 "overloaded".
  hostileSilenceFlac();
  wideToneFlac(2);
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-outquota-'));
  const plans = writePlans(dir, generousPlans(), (p) => {
    p.plans.free.quotas = {
      maxBytes: QUOTA,
      maxFiles: 100,
      maxUploadBytes: 20_000_000,
      maxDurationSec: 600,
      maxQueuedJobs: 10,
    };
  });
  // No worker at first: admission is tested on queued jobs; one is started for the worker's part.
  svc = await startService({ workers: 0, env: { PLANS_FILE: plans, POOL_SIZE: '1' } });
});
after(async () => {
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

const folder = (c: ApiClient, name: string) =>
  path.join(svc.dataDir, 'workspaces', c.session?.userId ?? '', name);

async function usage(c: ApiClient): Promise<number> {
  const res = await c.request('GET', '/api/workspace');
  assert.equal(res.status, 200);
  return res.body.usage.bytes;
}

function probe(file: string): { channels: number; sampleRate: number } {
  const out = execFileSync('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=channels,sample_rate',
    '-of',
    'json',
    file,
  ]).toString();
  const s = JSON.parse(out).streams[0];
  return { channels: Number(s.channels), sampleRate: Number(s.sample_rate) };
}

test("admission reserves each job's largest output: the hostile FLAC cannot queue past the quota", async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  // 1. The hostile file itself is small and within every upload limit.
  const up = await user.uploadBytes(await readFile(hostileSilenceFlac()), 'silence.flac');
  assert.equal(up.status, 201, JSON.stringify(up.body));
  assert.equal(up.body.upload.channels, 8);
  assert.ok(up.body.upload.bytes < 1_000_000);
  const uploadId = up.body.upload.id;
  // 2. One WAV job fits: 590 s of mono 16-bit 44.1 kHz is about 52 MB of 60 MB.
  const first = await user.request('POST', '/api/jobs', { uploadId, outputFormat: 'wav' });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  // 3. A second would not, with the first one's output still to come: 413, with limit and usage.
  for (const outputFormat of ['wav', 'flac', 'ogg', 'mp3']) {
    const more = await user.request('POST', '/api/jobs', { uploadId, outputFormat });
    assert.equal(more.status, 413, `${outputFormat}: ${JSON.stringify(more.body)}`);
    assert.equal(more.body.error, 'VC_ERR_QUOTA_EXCEEDED');
    assert.match(more.body.message, new RegExp(`of ${QUOTA}`));
  }
  // 4. Once the first is cancelled its reservation is gone, and a compressed output fits again.
  const cancel = await user.request('DELETE', `/api/jobs/${first.body.job.id}`);
  assert.ok([200, 202].includes(cancel.status), JSON.stringify(cancel.body));
  assert.equal((await user.waitForJob(first.body.job.id)).state, 'cancelled');
  const mp3 = await user.request('POST', '/api/jobs', { uploadId, outputFormat: 'mp3' });
  assert.equal(mp3.status, 202, JSON.stringify(mp3.body));
  assert.equal((await user.request('DELETE', `/api/jobs/${mp3.body.job.id}`)).status, 200);
});

test('the worker stops an output that outgrows what is left of the quota, and removes it', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  // 1. Admitted while the workspace is nearly empty (the bound is about 52 MB of 60 MB).
  const up = await user.uploadBytes(await readFile(hostileSilenceFlac()), 'silence.flac');
  assert.equal(up.status, 201);
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  // 2. While it waits, the user stores 12 MB more (uploads are checked against files on disk).
  const bigFile = path.join(dir, 'big.wav');
  // biome-ignore format: flag/value pairs
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=330:r=48000:d=62', '-ac', '2', '-c:a', 'pcm_s16le', bigFile,
  ]);
  const big = await user.uploadBytes(await readFile(bigFile), 'big.wav');
  assert.equal(big.status, 201, JSON.stringify(big.body));
  const before = await usage(user);
  assert.ok(before > 12_000_000 && before + 52_000_000 > QUOTA, `usage ${before}`);
  // 3. A worker takes the job: the output would pass the quota, so the job fails for good with
  //    the quota's code, and neither a partial nor a final file is left.
  svc.startWorker();
  await Promise.all(svc.workers.map((w) => w.ready));
  const done = await user.waitForJob(job.id, 180_000);
  assert.equal(done.state, 'failed', JSON.stringify(done));
  assert.equal(done.error?.code, 'VC_ERR_QUOTA_EXCEEDED');
  assert.equal(done.attempts, 1, 'not retried');
  assert.doesNotMatch(done.error?.message ?? '', /\//, 'no path in the message');
  assert.deepEqual(await readdir(folder(user, 'outputs')), []);
  assert.ok((await usage(user)) <= QUOTA);
  assert.equal(await usage(user), before);

  // 4. A job that fits completes, and its output is mono at the pipeline's rate whatever the
  //    input's 8 channels at 192 kHz: the output never carries more than the job asks for.
  const wide = await user.uploadBytes(await readFile(wideToneFlac(2)), 'wide.flac');
  assert.equal(wide.status, 201);
  const ok = await user.createJob({ uploadId: wide.body.upload.id, outputFormat: 'wav' });
  assert.equal((await user.waitForJob(ok.id)).state, 'completed');
  const [out] = await readdir(folder(user, 'outputs'));
  assert.deepEqual(probe(path.join(folder(user, 'outputs'), out)), { channels: 1, sampleRate: 44_100 });
});
