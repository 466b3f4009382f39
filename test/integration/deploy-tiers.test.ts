import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { loadTiers, tierPlan } from '../../src/deploy/index.js';
import { DEPLOY_SCRIPT } from '../helpers/haproxy.js';

// The systemd and docker tiers' --dry-run for every tier of config/tiers.json: what they would
// write follows the sizing table, and nothing is written. (Booting them is test/tiers/, run
// by `npm run test:tiers`.)
const execFileAsync = promisify(execFile);
const TIERS_FILE = path.join(path.dirname(DEPLOY_SCRIPT), '../config/tiers.json');

async function dryRun(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await execFileAsync('bash', [DEPLOY_SCRIPT, ...args, '--dry-run'], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('systemd --dry-run: units, drop-ins and commands follow the tier, nothing is written', async () => {
  const tiers = loadTiers(TIERS_FILE);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-sd-dry-'));
  const root = path.join(dir, 'root');
  try {
    for (const name of ['small', 'medium', 'large', 'xlarge']) {
      const plan = tierPlan(tiers, name);
      const r = await dryRun(['systemd', name, '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      const out = r.stdout;
      assert.match(out, new RegExp(`^MemoryMax=${plan.apiMemoryMax}$`, 'm'));
      assert.match(out, new RegExp(`^MemoryMax=${plan.workerMemoryMax}$`, 'm'));
      assert.match(out, new RegExp(`^Nice=${plan.workerNice}$`, 'm'));
      assert.match(out, new RegExp(`^maxmemory ${plan.redisMaxMemory}$`, 'm'));
      assert.match(out, new RegExp(`^  maxconn "${plan.maxconn}"$`, 'm'));
      const enable = out.split('\n').find((l) => l.includes(' enable vcfarm.target')) ?? '';
      const apis = enable.match(/vcfarm-api@\d+\.service/g) ?? [];
      const workers = enable.match(/vcfarm-worker@[\d-]+\.service/g) ?? [];
      assert.equal(apis.length, plan.apiInstances, name);
      assert.deepEqual(
        workers,
        plan.workerCpus.map((c) => `vcfarm-worker@${c}.service`),
      );
      const servers = out.match(/^ {2}server api\d+ "127\.0\.0\.1:\d+" check$/gm) ?? [];
      assert.equal(servers.length, plan.apiInstances);
      assert.match(out, /dry run: nothing was written or started/);
    }
    assert.equal(existsSync(root), false, 'nothing was written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('docker --dry-run: the override follows the tier, nothing is written', async () => {
  const tiers = loadTiers(TIERS_FILE);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-dk-dry-'));
  const deployDir = path.join(dir, 'deploy');
  try {
    for (const name of ['small', 'medium', 'large', 'xlarge']) {
      const plan = tierPlan(tiers, name);
      const r = await dryRun(['docker', name], { VCFARM_DEPLOY_DIR: deployDir });
      assert.equal(r.code, 0, r.stderr);
      const out = r.stdout;
      assert.match(out, new RegExp(`cpuset: "${plan.workerCpuset}"`));
      assert.match(out, new RegExp(`cpus: ${plan.cores}\\b`));
      assert.match(out, new RegExp(`mem_limit: ${plan.workerMemoryTotalBytes}\\b`));
      assert.match(out, new RegExp(`REDIS_MAXMEMORY: "${plan.redisMaxMemory}"`));
      assert.match(out, new RegExp(`up -d --build --remove-orphans --scale api=${plan.apiInstances}$`, 'm'));
      const slots = out.match(/server-template api 1-(\d+) api:8080 check resolvers docker/g) ?? [];
      assert.equal(slots.length, 2);
      assert.ok(slots.every((s) => s.includes(`1-${plan.apiInstances} `)));
    }
    assert.equal(existsSync(deployDir), false, 'nothing was written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unknown tier is refused with the list of tiers', async () => {
  for (const kind of ['systemd', 'docker']) {
    const r = await dryRun([kind, 'huge']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown tier "huge"; tiers: tiny, small, medium, large, xlarge/);
  }
});

test('systemd --dry-run renders an API-only and a worker-only host against a remote Redis', async () => {
  const tiers = loadTiers(TIERS_FILE);
  const plan = tierPlan(tiers, 'medium');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-sd-role-'));
  const root = path.join(dir, 'root');
  const passwordFile = path.join(dir, 'redis-password');
  await writeFile(passwordFile, 'the-remote-redis-password-0123456789\n', { mode: 0o600 });
  const remote = { REDIS_URL: 'rediss://redis.internal:6380/0', REDIS_PASSWORD_FILE: passwordFile };
  const sections = (out: string) => [...out.matchAll(/^### (\S+)/gm)].map((m) => m[1].slice(root.length));
  const enabled = (out: string) =>
    (out.split('\n').find((l) => l.includes(' enable vcfarm.target')) ?? '').trim().split(/\s+/).slice(3);
  try {
    // 1. Worker host: the workers only, pointed at the remote Redis; no Redis, HAProxy or API.
    const worker = await dryRun(['systemd', 'medium', '--root', root], { ...remote, HOST_ROLE: 'worker' });
    assert.equal(worker.code, 0, worker.stderr);
    assert.deepEqual(enabled(worker.stdout), [
      'vcfarm.target',
      ...plan.workerCpus.map((c) => `vcfarm-worker@${c}.service`),
    ]);
    assert.match(worker.stdout, /^REDIS_URL=rediss:\/\/redis\.internal:6380\/0$/m);
    const files = sections(worker.stdout);
    for (const f of [
      '/etc/vcfarm/redis.conf',
      '/etc/vcfarm/haproxy.cfg',
      '/etc/systemd/system/vcfarm-api@.service',
    ])
      assert.ok(!files.includes(f), `worker host renders ${f}`);
    assert.ok(files.includes('/etc/systemd/system/vcfarm-worker@.service.d/tier.conf'));
    const target = worker.stdout
      .split('### ')
      .find((part) => part.startsWith(`${root}/etc/systemd/system/vcfarm.target\n`));
    assert.ok(target, 'the target is rendered');
    assert.doesNotMatch(target, /^Wants=/m, 'the target wants no local Redis or HAProxy');
    assert.doesNotMatch(worker.stdout, /the-remote-redis-password/, 'the password is never printed');

    // 2. API host: HAProxy and the API instances, the same remote Redis; no workers, no Redis.
    const api = await dryRun(['systemd', 'medium', '--root', root], { ...remote, HOST_ROLE: 'api' });
    assert.equal(api.code, 0, api.stderr);
    const apiUnits = enabled(api.stdout);
    assert.deepEqual(apiUnits.slice(0, 2), ['vcfarm.target', 'vcfarm-haproxy.service']);
    assert.equal(apiUnits.filter((u) => u.startsWith('vcfarm-api@')).length, plan.apiInstances);
    assert.ok(!apiUnits.some((u) => /worker|redis/.test(u)), apiUnits.join(' '));
    assert.match(api.stdout, /^REDIS_URL=rediss:\/\/redis\.internal:6380\/0$/m);
    assert.ok(!sections(api.stdout).includes('/etc/vcfarm/redis.conf'));

    // 3. Refused: a role without the shared Redis, a password in the URL, an unknown role.
    const bad = [
      [{ HOST_ROLE: 'api' }, /HOST_ROLE=api needs the shared Redis/],
      [{ ...remote, REDIS_URL: 'redis://:secret@redis.internal:6379' }, /password in REDIS_PASSWORD_FILE/],
      [{ REDIS_URL: 'redis://redis.internal:6379' }, /needs REDIS_PASSWORD_FILE/],
      [{ HOST_ROLE: 'database' }, /HOST_ROLE must be all, api or worker/],
    ] as const;
    for (const [env, message] of bad) {
      const r = await dryRun(['systemd', 'medium', '--root', root], { ...env });
      assert.equal(r.code, 1, JSON.stringify(env));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /secret/);
    }
    assert.equal(existsSync(root), false, 'nothing was written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
