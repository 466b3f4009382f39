import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
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
