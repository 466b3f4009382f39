import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTiers, tierPlan } from '../../src/deploy/index.js';

const shipped = fileURLToPath(new URL('../../../config/tiers.json', import.meta.url));

test('the shipped tiers follow the seed guide: 4/8/16/32 cores, workers pinned to disjoint cores', () => {
  const tiers = loadTiers(shipped);
  const cores = ['small', 'medium', 'large', 'xlarge'].map((n) => tiers.tiers[n].cores);
  assert.deepEqual(cores, [4, 8, 16, 32]);
  const medium = tierPlan(tiers, 'medium');
  assert.deepEqual(medium.workerCpus, ['0-3', '4-7']);
  assert.equal(medium.workerCpuset, '0-7');
  assert.equal(medium.workerMemoryTotalBytes, 2 * 4 * 2 ** 30);
  assert.equal(medium.apiInstances, 3);
  assert.deepEqual(tierPlan(tiers, 'tiny').workerCpus, ['0', '1']);
});

test('connection limits are derived from max users', () => {
  const plan = tierPlan(loadTiers(shipped), 'xlarge');
  // 200 users x (4 WebSockets + 4 requests), plus the stats page; requests spread over 6 instances.
  assert.equal(plan.frontendMaxconn, 1600);
  assert.equal(plan.maxconn, 1632);
  assert.equal(plan.serverMaxconn, Math.ceil(800 / 6));
  // Two descriptors per connection, 64 + 2 per instance for listeners and checks.
  assert.equal(plan.haproxyNofile, 2 * 1632 + 64 + 12);
});

test('an unknown tier and a bad file are refused naming the field', (t) => {
  const tiers = loadTiers(shipped);
  assert.throws(() => tierPlan(tiers, 'huge'), /unknown tier "huge"; tiers: tiny, small/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcfarm-tiers-'));
  const bad = (name: string, patch: (t: Record<string, unknown>) => void): string => {
    const doc = JSON.parse(JSON.stringify(tiers));
    patch(doc.tiers.small);
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(doc));
    return file;
  };
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.throws(() => loadTiers(bad('a', (t) => (t.apiMemoryMax = '1 gig'))), /tiers\.small\.apiMemoryMax/);
  assert.throws(
    () => loadTiers(bad('b', (t) => (t.threadsPerWorker = 3))),
    /tiers\.small: workers need more cores/,
  );
  assert.throws(() => loadTiers(bad('c', (t) => (t.workerMemoryMax = '8G'))), /tiers\.small: memory limits/);
});
