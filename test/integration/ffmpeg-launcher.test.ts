import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { WorkerPool } from '../../workers/pool/index.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { isAlive, processesMatching, waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
});

async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The job's running ffmpeg and the process that started it, once there is one. */
async function ffmpegOf(jobId: string): Promise<{ ffmpeg: number; parent: number; parentCmd: string }> {
  let ffmpeg = 0;
  await waitUntil(
    () => {
      ffmpeg = processesMatching(jobId).find((p) => p.cmdline.startsWith('ffmpeg'))?.pid ?? 0;
      return ffmpeg > 0;
    },
    60_000,
    `the ffmpeg of ${jobId}`,
  );
  const parent = await parentOf(ffmpeg);
  const parentCmd = (await readFile(`/proc/${parent}/cmdline`, 'utf8')).replaceAll('\0', ' ');
  return { ffmpeg, parent, parentCmd };
}

async function pitchJob(client: ApiClient): Promise<{ id: string; uploadId: string }> {
  // About 150 s of speech: seconds of work, long enough to act on mid-way.
  const up = await client.upload(humanSpeech(20));
  assert.equal(up.status, 201);
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3', pitchSemitones: 3 });
  return { id: job.id, uploadId: up.body.upload.id };
}

test("a pitch-only job's ffmpeg is started by its thread's launcher, not forked from the worker", async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const job = await pitchJob(client);

  // 1. The ffmpeg's parent is the launcher, whose parent is the worker.
  const worker = svc.workers[0].process.pid ?? 0;
  const { parent, parentCmd } = await ffmpegOf(job.id);
  assert.notEqual(parent, worker);
  assert.match(parentCmd, /launcher-process\.js/);
  assert.equal(await parentOf(parent), worker);

  // 2. The job completes as any other.
  assert.equal((await client.waitForJob(job.id, 120_000)).state, 'completed');
});

test('a launcher that dies mid-job: its ffmpeg is killed, the attempt fails as retryable, the next attempt completes on a new launcher', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const job = await pitchJob(client);

  // 1. Kill the launcher running the job's ffmpeg.
  const first = await ffmpegOf(job.id);
  process.kill(first.parent, 'SIGKILL');

  // 2. Its ffmpeg does not outlive it; the job runs again, under a new launcher, and completes.
  await waitUntil(() => !isAlive(first.ffmpeg), 10_000, 'the orphaned ffmpeg to be killed');
  const second = await ffmpegOf(job.id);
  assert.notEqual(second.parent, first.parent);
  const done = await client.waitForJob(job.id, 120_000);
  assert.equal(done.state, 'completed');
  const failed = svc.workers[0].logs.find((e) => e.msg === 'conversion attempt failed' && e.jobId === job.id);
  assert.match(String(failed?.err), /VC_ERR_PIPELINE/);
  assert.match(String(failed?.err), /"retryable":true/);
  const outputs = await readdir(
    path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'outputs'),
  );
  assert.deepEqual(
    outputs.filter((f) => f.endsWith('.part')),
    [],
    'no partial file is left',
  );
});

test('a worker killed with SIGKILL mid-job leaves neither its launcher nor the ffmpeg running', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const job = await pitchJob(client);
  const { ffmpeg, parent } = await ffmpegOf(job.id);

  svc.workers[0].process.kill('SIGKILL');

  // The launcher reads the end of its stdin, kills what it started and exits.
  await waitUntil(() => !isAlive(ffmpeg) && !isAlive(parent), 10_000, 'the launcher and its ffmpeg to exit');
  assert.deepEqual(processesMatching(job.uploadId), []);
});

test('each pool thread has one launcher, which leaves with its thread (a shrink, the pool closing)', async () => {
  const ours = async () => {
    const found = [];
    for (const p of processesMatching('launcher-process.js'))
      if ((await parentOf(p.pid).catch(() => 0)) === process.pid) found.push(p.pid);
    return found;
  };
  const pool = new WorkerPool({
    filename: fileURLToPath(new URL('../../workers/tasks/pool-thread.js', import.meta.url)),
    size: 2,
    cores: [],
    pin: false,
    logger: pino({ level: 'silent' }),
  });
  try {
    await pool.start();
    await waitUntil(async () => (await ours()).length === 2, 10_000, 'a launcher per thread');
    await pool.resize(1);
    await waitUntil(async () => (await ours()).length === 1, 10_000, "the retired thread's launcher to exit");
  } finally {
    await pool.close();
  }
  await waitUntil(async () => (await ours()).length === 0, 10_000, 'the last launcher to exit');
});
