import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitUntil } from '../helpers/processes.js';
import { MASTER_NAME, type SentinelSet, startSentinelSet } from '../helpers/sentinel.js';

// scripts/backup.sh configured as the service is for Redis Sentinel (REDIS_SENTINELS,
// REDIS_MASTER_NAME, REDIS_PASSWORD_FILE): the snapshot comes from the master the sentinels name
// at the time of the backup, before and after a failover.
const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BACKUP = path.join(REPO, 'scripts', 'backup.sh');

let set: SentinelSet;
let dir: string;
before(async () => {
  set = await startSentinelSet();
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-backup-sentinel-'));
  await mkdir(path.join(dir, 'data', 'workspaces'), { recursive: true });
  await mkdir(path.join(dir, 'models'));
});
after(async () => {
  await set?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  DATA_DIR: path.join(dir, 'data'),
  MODELS_DIR: path.join(dir, 'models'),
  REDIS_SENTINELS: set.sentinels,
  REDIS_MASTER_NAME: MASTER_NAME,
  REDIS_PASSWORD_FILE: set.passwordFile,
  ...extra,
});

/** Runs a backup into a fresh folder: its manifest and its Redis snapshot's bytes. */
async function backup(): Promise<{ manifest: { redis: { source: string } }; rdb: Buffer; stderr: string }> {
  const out = await mkdtemp(path.join(dir, 'out-'));
  const r = await run('bash', [BACKUP, '--out', out], { env: env() });
  const archive = r.stdout.trim();
  const unpacked = await mkdtemp(path.join(dir, 'unpacked-'));
  await run('tar', ['-C', unpacked, '-xzf', archive]);
  const [top] = await readdir(unpacked);
  return {
    manifest: JSON.parse(await readFile(path.join(unpacked, top as string, 'manifest.json'), 'utf8')),
    rdb: await readFile(path.join(unpacked, top as string, 'redis', 'dump.rdb')),
    stderr: r.stderr,
  };
}

/** Sets a short key (kept as plain bytes in the RDB) on the current master. */
async function setOnMaster(key: string): Promise<number> {
  const port = await set.masterPort();
  const client = new Redis({ port, host: '127.0.0.1', password: set.password });
  try {
    await client.set(key, 'kept');
  } finally {
    client.disconnect();
  }
  return port;
}

test('backup.sh with REDIS_SENTINELS snapshots the master the sentinels name, and follows a failover', async () => {
  // 1. The master as the sentinels name it now.
  const first = await setOnMaster('before-failover');
  const one = await backup();
  assert.equal(one.manifest.redis.source, `redis://127.0.0.1:${first}`);
  assert.ok(one.rdb.includes('before-failover'), 'the key is in the snapshot');
  assert.ok(!one.stderr.includes(set.password));

  // 2. A failover: the replica becomes the master; the next backup takes it from there.
  const sentinel = new Redis({ port: Number(set.sentinels.split(',')[0]?.split(':')[1]), host: '127.0.0.1' });
  try {
    await sentinel.call('SENTINEL', 'failover', MASTER_NAME);
  } finally {
    sentinel.disconnect();
  }
  await waitUntil(async () => (await set.masterPort()) !== first, 30_000, 'the failover');
  const second = await waitUntilWritable('after-failover');
  const two = await backup();
  assert.notEqual(second, first);
  assert.equal(two.manifest.redis.source, `redis://127.0.0.1:${second}`);
  assert.ok(two.rdb.includes('after-failover'));
});

test('backup.sh refuses REDIS_SENTINELS together with REDIS_URL, and REDIS_CLUSTER_NODES, in words', async () => {
  const out = path.join(dir, 'refused');
  for (const [extra, message] of [
    [{ REDIS_URL: 'redis://127.0.0.1:1' }, /REDIS_SENTINELS and REDIS_URL are both set; set one/],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7000' }, /a Redis Cluster is not backed up by this script/],
    [
      { REDIS_SENTINELS: '127.0.0.1:1' },
      /no sentinel of REDIS_SENTINELS \(127\.0\.0\.1:1\) named a master "vcfarm"/,
    ],
  ] as const) {
    await assert.rejects(
      run('bash', [BACKUP, '--out', out], { env: env(extra) }),
      (err: { stderr: string }) => {
        assert.match(err.stderr, message);
        return true;
      },
    );
  }
});

/** Sets `key` on the new master once it takes writes (a promoted replica does within moments). */
async function waitUntilWritable(key: string): Promise<number> {
  let port = 0;
  await waitUntil(
    async () => {
      try {
        port = await setOnMaster(key);
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    'the new master to take writes',
  );
  return port;
}
