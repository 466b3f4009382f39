import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { writePlans } from '../helpers/plans.js';
import { freePort } from '../helpers/ports.js';
import { type StartedProcess, spawnProcess, startProcess, waitUntil } from '../helpers/processes.js';
import { CLI } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';
import { makeTestPki, redisTlsConf } from '../helpers/tls-certs.js';

// vcfarm against a TLS-only Redis with a password (REDIS_URL rediss://, REDIS_TLS_CA_FILE):
// `vcfarm api` and `vcfarm worker` started as in production, a job completes; a certificate the
// processes cannot trust stops them at start-up with a message naming the fix, never the password.
const PASSWORD = 'tls-redis-password-5b0c7e1d9a2f4e6b8c0d';

let dir: string;
let redis: StartedProcess | undefined;
let tlsPort: number;
const children: StartedProcess[] = [];

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-redis-tls-'));
  // 1. A CA, the server's certificate for 127.0.0.1 signed by it, and an unrelated CA.
  const pki = await makeTestPki(dir);
  await writeFile(path.join(dir, 'redis-password'), `${PASSWORD}\n`, { mode: 0o600 });
  // 2. redis-server on TLS only (port 0: no plain TCP), with a password, from a config file.
  tlsPort = await freePort();
  await writeFile(
    path.join(dir, 'redis.conf'),
    [
      ...redisTlsConf(pki, tlsPort),
      'bind 127.0.0.1',
      `requirepass ${PASSWORD}`,
      `dir ${dir}`,
      'save ""',
      'appendonly no',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  redis = await startProcess('redis-server', [path.join(dir, 'redis.conf')], {
    graceMs: 0,
    readyTimeoutMs: 10_000,
    ready: () => listening(tlsPort),
  });
});

after(async () => {
  await Promise.all([...children, redis].map((c) => c?.kill()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function vcfarm(command: 'api' | 'worker', env: Record<string, string>): Run {
  const p = spawnProcess(process.execPath, [CLI, command], {
    inheritEnv: false,
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      REDIS_URL: `rediss://127.0.0.1:${tlsPort}/0`,
      REDIS_PASSWORD_FILE: path.join(dir, 'redis-password'),
      ...env,
    },
  });
  children.push(p);
  return { child: p.process, output: p.output, exited: p.exited.then(({ code }) => code) };
}

test('api and worker against a TLS-only Redis with a password: a job completes', async () => {
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const common = {
    DATA_DIR: dataDir,
    PLANS_FILE: writePlans(dir),
    REDIS_TLS_CA_FILE: path.join(dir, 'ca.pem'),
  };
  // 1. Both processes reach Redis over TLS only (it has no plain-TCP port: `port 0`).
  const api = vcfarm('api', { ...common, PORT: String(port), HOST: '127.0.0.1' });
  const worker = vcfarm('worker', { ...common, POOL_SIZE: '1' });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200,
    60_000,
    `the API to answer /health with 200 (${api.output().slice(-400)})`,
  );
  await waitUntil(() => worker.output().includes('worker process ready'), 60_000, 'the worker to be ready');
  // 2. A conversion goes through the TLS Redis, from the API to the worker and back.
  const client = await ApiClient.anonymous(base);
  const up = await client.upload(tinyWav(1));
  assert.equal(up.status, 201);
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  assert.equal((await client.waitForJob(job.id, 120_000)).state, 'completed');
  const result = await client.download(job.id);
  assert.equal(result.status, 200);
  assert.ok(result.bytes.length > 44);
  // 3. The password is in no log line; both stop cleanly.
  for (const run of [api, worker]) {
    assert.ok(!run.output().includes(PASSWORD), 'the password is in a log');
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
  }
});

test('a certificate that cannot be trusted stops api and worker at start-up, naming the fix', async () => {
  const cases: [string, Record<string, string>][] = [
    ['another CA', { REDIS_TLS_CA_FILE: path.join(dir, 'other-ca.pem') }],
    ["Node's CAs only", {}],
  ];
  for (const [what, env] of cases) {
    for (const command of ['api', 'worker'] as const) {
      const run = vcfarm(command, {
        ...env,
        DATA_DIR: path.join(dir, 'refused'),
        PLANS_FILE: writePlans(dir),
      });
      const code = await run.exited;
      assert.notEqual(code, 0, `${command} with ${what} exits`);
      assert.match(
        run.output(),
        /Redis at 127\.0\.0\.1:\d+ \(REDIS_URL\): its TLS certificate is not trusted \(\w+\)/,
      );
      assert.match(run.output(), /set REDIS_TLS_CA_FILE to the CA that signed it/);
      assert.ok(!run.output().includes(PASSWORD), `${command} with ${what}: the password is in its output`);
    }
  }
});

test('REDIS_TLS_CA_FILE without rediss://, or naming no certificate, is a configuration error', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { REDIS_URL: `redis://127.0.0.1:${tlsPort}`, REDIS_TLS_CA_FILE: path.join(dir, 'ca.pem') },
      /REDIS_TLS_CA_FILE is for a TLS Redis: REDIS_URL must be rediss:\/\//,
    ],
    [{ REDIS_TLS_CA_FILE: path.join(dir, 'redis.conf') }, /REDIS_TLS_CA_FILE=".*": holds no PEM certificate/],
    [
      { REDIS_TLS_CA_FILE: path.join(dir, 'missing.pem') },
      /REDIS_TLS_CA_FILE=".*": cannot be read \(ENOENT\)/,
    ],
  ];
  for (const [env, message] of cases) {
    const run = vcfarm('api', { ...env, DATA_DIR: path.join(dir, 'refused'), PLANS_FILE: writePlans(dir) });
    assert.equal(await run.exited, 78, run.output());
    assert.match(run.output(), message);
    assert.ok(!run.output().includes(PASSWORD));
  }
});
