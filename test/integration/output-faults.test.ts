import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

// Real faults on the output folder need root (a tmpfs mount, the immutable attribute): `npm test`
// runs as root, as `npm start` does to install its packages.
let svc: TestService;
let workerStderr = '';
const mounts: string[] = [];

before(async () => {
  svc = await startService({ workers: 1, env: { POOL_SIZE: '1', JOB_ATTEMPTS: '2' } });
  svc.workers[0].process.stderr?.on('data', (b: Buffer) => {
    workerStderr += b.toString();
  });
});
after(async () => {
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  await svc?.close();
});

async function outputsDirOf(client: ApiClient): Promise<string> {
  const dir = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'outputs');
  await mkdir(dir, { recursive: true });
  return dir;
}

test('a disk that fills mid-conversion stops the job at the first encoder failure, with ffmpeg’s reason and no path', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(4));
  assert.equal(up.status, 201);
  // 1. The user's outputs folder is a 192 KiB tmpfs: the WAV (several MB) fills it early on.
  const dir = await outputsDirOf(client);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=192k', 'tmpfs', dir]);
  mounts.push(dir);
  const events = await client.openEvents();
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  const done = await client.waitForJob(job.id, 60_000);

  // 2. Failed, with the encoder's own reason, and nothing of the server in the message.
  assert.equal(done.state, 'failed');
  assert.equal(done.error?.code, 'VC_ERR_PIPELINE');
  assert.match(done.error?.message ?? '', /No space left on device/);
  assert.doesNotMatch(done.error?.message ?? '', /\/|EPIPE|0x[0-9a-f]{6}/);

  // 3. Each attempt stopped at the failure instead of converting to the end into a dead pipe.
  const progress = events.forJob(job.id).map((m) => m.progress ?? 0);
  assert.ok(Math.max(0, ...progress) < 0.6, `progress reached ${Math.max(0, ...progress)}`);
  events.close();

  // 4. One drain listener, not one per write after the encoder died.
  assert.doesNotMatch(workerStderr, /MaxListenersExceededWarning/);
});

test('an output folder nobody may write to fails the job at once, without retries that cannot help', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(humanSpeech(1));
  assert.equal(up.status, 201);
  const dir = await outputsDirOf(client);
  execFileSync('chattr', ['+i', dir]);
  try {
    const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3' });
    const done = await client.waitForJob(job.id, 60_000);
    assert.equal(done.state, 'failed');
    assert.equal(done.error?.code, 'VC_ERR_PIPELINE');
    assert.match(done.error?.message ?? '', /Operation not permitted/);
    assert.doesNotMatch(done.error?.message ?? '', /\//);
    assert.equal(done.attempts, 1, 'no second attempt');
  } finally {
    execFileSync('chattr', ['-i', dir]);
  }
  // The worker is fine: the next job of the same user converts.
  const next = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3' });
  assert.equal((await client.waitForJob(next.id, 60_000)).state, 'completed');
});
