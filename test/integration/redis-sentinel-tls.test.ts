import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { writePlans } from '../helpers/plans.js';
import { waitUntil } from '../helpers/processes.js';
import { MASTER_NAME, type SentinelSet, startSentinelSet } from '../helpers/sentinel.js';
import { CLI, startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';
import { makeTestPki, type TestPki } from '../helpers/tls-certs.js';

// Sentinel and TLS together: a primary, a replica and three sentinels that all speak TLS only
// (Debian's redis-server and redis-sentinel, `port 0`, `tls-replication yes`), with a password.
// The API and a worker follow the sentinels over TLS (REDIS_SENTINEL_TLS, REDIS_TLS_CA_FILE): a
// job completes, the primary is killed, and a job submitted after the failover completes on
// the promoted replica, over TLS too. Sentinels whose certificate is not trusted stop start-up.
let dir: string;
let pki: TestPki;
let set: SentinelSet;
let svc: TestService;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-sentinel-tls-'));
  pki = await makeTestPki(dir);
  set = await startSentinelSet({ tls: pki });
  svc = await startService({
    workers: 1,
    env: {
      REDIS_SENTINELS: set.sentinels,
      REDIS_MASTER_NAME: MASTER_NAME,
      REDIS_SENTINEL_TLS: 'yes',
      REDIS_TLS_CA_FILE: pki.caFile,
      REDIS_PASSWORD_FILE: set.passwordFile,
      POOL_SIZE: '1',
      JOB_LOCK_MS: '5000',
      STALLED_INTERVAL_MS: '5000',
    },
  });
});

after(async () => {
  await svc?.close();
  await set?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('Sentinel over TLS: a job completes, and another after the primary is killed and the replica promoted', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  // 1. Before the failover: the sentinels name the primary, over TLS only (no plain port).
  assert.equal(await set.masterPort(), set.primary.port);
  const first = await client.upload(tinyWav(1));
  assert.equal(first.status, 201);
  const job1 = await client.createJob({ uploadId: first.body.upload.id, outputFormat: 'wav' });
  assert.equal((await client.waitForJob(job1.id, 120_000)).state, 'completed');

  // 2. The primary dies; the sentinels (talking TLS to each other and to the servers) promote
  //    the replica.
  const killedAt = Date.now();
  set.primary.process.kill('SIGKILL');
  await waitUntil(async () => (await set.masterPort()) === set.replica.port, 30_000, 'the failover');
  const failoverMs = Date.now() - killedAt;

  // 3. The API and the worker follow to the new primary over TLS: a new job completes and the
  //    first job's record survived (it was replicated before the kill).
  let uploadId = '';
  await waitUntil(
    async () => {
      const up = await client.upload(tinyWav(1));
      uploadId = up.status === 201 ? up.body.upload.id : '';
      return uploadId !== '';
    },
    60_000,
    'an upload after the failover',
  );
  const job2 = await client.createJob({ uploadId, outputFormat: 'wav' });
  assert.equal((await client.waitForJob(job2.id, 120_000)).state, 'completed');
  assert.equal((await client.download(job2.id)).status, 200);
  const again = await client.request('GET', `/api/jobs/${job1.id}`);
  assert.equal(again.status, 200);
  assert.equal(again.body.job.state, 'completed');
  console.log(`sentinel over TLS: failover ${failoverMs} ms after the kill; a job completed after it`);
});

test('sentinels whose certificate is not trusted stop api and worker at start-up, naming the sentinel', async () => {
  const cases: [string, Record<string, string>][] = [
    ['another CA', { REDIS_TLS_CA_FILE: pki.otherCaFile }],
    ["Node's CAs only", {}],
  ];
  for (const [what, env] of cases) {
    for (const command of ['api', 'worker'] as const) {
      const child: ChildProcess = spawn(process.execPath, [CLI, command], {
        env: {
          PATH: process.env.PATH,
          LOG_FORMAT: 'json',
          DATA_DIR: path.join(dir, 'refused'),
          PLANS_FILE: writePlans(dir),
          REDIS_SENTINELS: set.sentinels,
          REDIS_SENTINEL_TLS: 'yes',
          REDIS_PASSWORD_FILE: set.passwordFile,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
      });
      child.stderr?.on('data', (b: Buffer) => {
        out += b.toString();
      });
      const code = await new Promise((r) => child.once('exit', r));
      assert.notEqual(code, 0, `${command} with ${what} exits`);
      assert.match(
        out,
        /Redis sentinel at 127\.0\.0\.1:\d+ \(REDIS_SENTINELS\): its TLS certificate is not trusted \(\w+\)/,
        `${command} with ${what}: ${out.slice(-400)}`,
      );
      assert.ok(!out.includes(set.password), `${command} with ${what}: the password is in its output`);
    }
  }
});
