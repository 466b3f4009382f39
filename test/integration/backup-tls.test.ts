import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/processes.js';
import { redisAnswers } from '../helpers/redis.js';
import { makeTestPki, redisTlsConf, type TestPki } from '../helpers/tls-certs.js';

// scripts/backup.sh against a TLS-only Redis with a password (REDIS_URL rediss://,
// REDIS_TLS_CA_FILE, REDIS_PASSWORD_FILE), as a systemd or docker tier's remote Redis is: the
// snapshot is taken over TLS, the password reaches redis-cli only through its environment
// (REDISCLI_AUTH: every redis-cli command line is recorded and checked), and restore.sh brings
// the keys back. An untrusted certificate fails the backup and leaves no archive.
const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BACKUP = path.join(REPO, 'scripts', 'backup.sh');
const RESTORE = path.join(REPO, 'scripts', 'restore.sh');
const PASSWORD = 'backup-tls-password-7c1e0a9b3d5f2468ace0';

let dir: string;
let pki: TestPki;
let port: number;
let redis: ChildProcess | undefined;
let binDir: string;
let argvLog: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-backup-tls-'));
  pki = await makeTestPki(dir);
  port = await freePort();
  const conf = path.join(dir, 'redis.conf');
  const lines = [
    ...redisTlsConf(pki, port),
    'bind 127.0.0.1',
    `requirepass ${PASSWORD}`,
    `dir ${dir}`,
    'save ""',
  ];
  await writeFile(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, 'redis-password'), `${PASSWORD}\n`, { mode: 0o600 });
  redis = spawn('redis-server', [conf], { stdio: 'ignore' });
  await waitUntil(() => redisAnswers(port, PASSWORD, { ca: pki.ca }), 10_000, 'the TLS Redis');
  // Every redis-cli the scripts run goes through this wrapper first: it records its arguments
  // and whether REDISCLI_AUTH was set, then runs the real one.
  binDir = path.join(dir, 'bin');
  argvLog = path.join(dir, 'redis-cli.argv');
  await mkdir(binDir);
  const real = (await run('bash', ['-c', 'command -v redis-cli'])).stdout.trim();
  const wrapper = path.join(binDir, 'redis-cli');
  await writeFile(
    wrapper,
    `#!/bin/sh\necho "auth=\${REDISCLI_AUTH:+set} $*" >>'${argvLog}'\nexec '${real}' "$@"\n`,
  );
  await chmod(wrapper, 0o755);
});

after(async () => {
  if (redis && redis.exitCode === null && redis.signalCode === null) {
    const exited = new Promise((r) => redis?.once('exit', r));
    redis.kill('SIGKILL');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

function scriptEnv(dataDir: string, modelsDir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: `${binDir}:${process.env.PATH}`,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    MODELS_DIR: modelsDir,
    REDIS_URL: `rediss://127.0.0.1:${port}/0`,
    REDIS_PASSWORD_FILE: path.join(dir, 'redis-password'),
    ...extra,
  };
}

test('backup.sh snapshots a TLS-only Redis with a password; restore.sh brings its keys back', async () => {
  // 1. Data: keys in Redis (one large enough that the snapshot streams for a while), a workspace file.
  const client = new Redis({ port, host: '127.0.0.1', password: PASSWORD, tls: { ca: pki.ca } });
  const big = Buffer.alloc(4 << 20, 7);
  await client.set('vcfarm:user:ada', 'pro');
  await client.hset('vcfarm:job:1', { state: 'completed', output: 'out.wav' });
  await client.set('vcfarm:blob', big);
  client.disconnect();
  const dataDir = path.join(dir, 'data');
  const modelsDir = path.join(dir, 'models');
  await mkdir(path.join(dataDir, 'workspaces', 'ada', 'outputs'), { recursive: true });
  await writeFile(path.join(dataDir, 'workspaces', 'ada', 'outputs', 'out.wav'), 'RIFF....');
  await mkdir(modelsDir);
  await writeFile(path.join(modelsDir, 'model.json'), '{}\n');

  // 2. The backup, over TLS with the private CA.
  const out = path.join(dir, 'backups');
  const env = scriptEnv(dataDir, modelsDir, { REDIS_TLS_CA_FILE: pki.caFile });
  const backup = await run('bash', [BACKUP, '--out', out], { env });
  const archive = backup.stdout.trim();
  assert.match(path.basename(archive), /^vcfarm-backup-\d{8}T\d{6}Z\.tar\.gz$/);
  assert.ok(!backup.stderr.includes(PASSWORD));
  // Every redis-cli call: TLS with the CA, the password from the environment, never in argv.
  const calls = (await readFile(argvLog, 'utf8')).trim().split('\n');
  assert.ok(calls.length >= 2, calls.join('\n'));
  for (const call of calls) {
    assert.ok(!call.includes(PASSWORD), `the password is on a command line: ${call}`);
    assert.match(call, /^auth=set /);
    assert.ok(call.includes(`--tls --cacert ${pki.caFile}`), call);
  }
  assert.ok(calls.some((c) => c.includes(' --rdb ')));
  const listing = (await run('tar', ['-tzf', archive])).stdout;
  assert.match(listing, /redis\/dump\.rdb/);
  assert.match(listing, /workspaces\/ada\/outputs\/out\.wav/);
  const unpacked = path.join(dir, 'unpacked');
  await mkdir(unpacked);
  await run('tar', ['-C', unpacked, '-xzf', archive]);
  const [top] = await readdir(unpacked);
  const manifest = await readFile(path.join(unpacked, top, 'manifest.json'), 'utf8');
  assert.match(manifest, new RegExp(`"source": "rediss://127\\.0\\.0\\.1:${port}/0"`));

  // 3. Restore elsewhere; a Redis on the restored files holds the same keys.
  const restored = path.join(dir, 'restored');
  await run(
    'bash',
    [
      RESTORE,
      archive,
      '--data-dir',
      path.join(restored, 'data'),
      '--models-dir',
      path.join(restored, 'models'),
    ],
    {
      env: scriptEnv(path.join(restored, 'data'), path.join(restored, 'models'), {}),
    },
  );
  const sock = path.join(dir, 'check.sock');
  const check = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--unixsocket',
      sock,
      '--dir',
      path.join(restored, 'data', 'redis'),
      '--appendonly',
      'yes',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  try {
    const r = new Redis({ path: sock, lazyConnect: true, retryStrategy: () => 100 });
    r.on('error', () => {});
    await waitUntil(
      async () => {
        try {
          await r.connect();
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      'the restored Redis',
    );
    assert.equal(await r.get('vcfarm:user:ada'), 'pro');
    assert.deepEqual(await r.hgetall('vcfarm:job:1'), { state: 'completed', output: 'out.wav' });
    assert.ok((await r.getBuffer('vcfarm:blob'))?.equals(big));
    r.disconnect();
  } finally {
    const exited = new Promise((res) => check.once('exit', res));
    check.kill('SIGKILL');
    await exited;
  }
  assert.equal(
    await readFile(path.join(restored, 'data', 'workspaces', 'ada', 'outputs', 'out.wav'), 'utf8'),
    'RIFF....',
  );
});

test('backup.sh with a CA that did not sign the certificate, or without TLS, fails and leaves no archive', async () => {
  const dataDir = path.join(dir, 'data2');
  await mkdir(path.join(dataDir, 'workspaces'), { recursive: true });
  const out = path.join(dir, 'refused');
  const cases: [string, Record<string, string>, RegExp][] = [
    ['another CA', { REDIS_TLS_CA_FILE: pki.otherCaFile }, /did not answer/],
    ['plain redis://', { REDIS_URL: `redis://127.0.0.1:${port}/0` }, /did not answer/],
    [
      'a CA without rediss://',
      { REDIS_URL: `redis://127.0.0.1:${port}/0`, REDIS_TLS_CA_FILE: pki.caFile },
      /REDIS_TLS_CA_FILE is for a TLS Redis/,
    ],
  ];
  for (const [what, extra, message] of cases) {
    await assert.rejects(
      run('bash', [BACKUP, '--out', out], { env: scriptEnv(dataDir, path.join(dir, 'models'), extra) }),
      (err: { code: number; stderr: string }) => {
        assert.notEqual(err.code, 0, what);
        assert.match(err.stderr, message, what);
        assert.ok(!err.stderr.includes(PASSWORD), `${what}: the password is in the output`);
        return true;
      },
    );
    assert.deepEqual(await readdir(out).catch(() => []), [], `${what}: something was left in --out`);
  }
});
