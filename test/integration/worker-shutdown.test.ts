import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { isAlive, processesMatching, spawnProcess, waitUntil } from '../helpers/processes.js';
import { CLI, startService, type TestService } from '../helpers/service.js';

let svc: TestService;
before(async () => {
  // The API and Redis only: the worker comes from a parent of its own below.
  svc = await startService({ workers: 0 });
});
after(async () => {
  await svc?.close();
});

// Starts `vcfarm worker` as `vcfarm all` does (VCFARM_PARENT_PID: it stops once its parent is
// gone), sharing this process's stdout pipe so its log lines still arrive after the parent died.
const PARENT = `
const { spawn } = require('node:child_process');
spawn(process.execPath, [process.argv[1], 'worker'], {
  env: { ...process.env, VCFARM_PARENT_PID: String(process.pid) },
  stdio: 'inherit',
});
setInterval(() => {}, 60_000);
`;

test('a worker whose parent dies mid-job stops the job: no ffmpeg, no partial file, the job is queued again at once', async () => {
  const parent = spawnProcess(process.execPath, ['-e', PARENT, CLI], {
    name: 'worker parent',
    env: { ...svc.env, WORKER_ID: 'orphan-worker', POOL_SIZE: '1' },
  });
  try {
    const ready = await parent.waitForLog('worker process ready', 120_000);
    const workerPid = Number(ready.pid);

    // 1. A job long enough to be running for a while (~150 s of speech, pitch only).
    const client = await ApiClient.anonymous(svc.baseUrl);
    const events = await client.openEvents();
    const up = await client.upload(humanSpeech(20));
    assert.equal(up.status, 201);
    const job = await client.createJob({
      uploadId: up.body.upload.id,
      outputFormat: 'mp3',
      pitchSemitones: 2,
    });
    await events.waitFor(
      (m) => m.type === 'progress' && m.jobId === job.id && (m.progress ?? 0) > 0.02,
      120_000,
    );
    events.close();
    const outputs = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'outputs');
    assert.equal((await readdir(outputs)).length, 1, 'the running attempt writes its partial file');
    assert.ok(processesMatching(job.id).length > 0, 'its ffmpeg runs');

    // 2. The parent dies without a word (SIGKILL: no hook of its own runs).
    await parent.kill();
    await waitUntil(() => !isAlive(workerPid), 10_000, 'the orphaned worker to exit');

    // 3. The worker stopped its job on the way out: nothing of the attempt is left, and the job
    // is back in the queue for another worker now, not active until its lock expires.
    assert.deepEqual(processesMatching(job.id), []);
    assert.deepEqual(await readdir(outputs), []);
    assert.equal((await client.job(job.id)).state, 'queued');
  } finally {
    await parent.kill();
  }
});
