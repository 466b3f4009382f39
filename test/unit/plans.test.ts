import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { effectivePlan } from '../../src/plans/index.js';
import { shippedPlans, writePlans } from '../helpers/plans.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vcfarm-plans-'));

test('the shipped plans load by default: free for anonymous users, pro ahead of free', () => {
  const c = loadConfig({});
  assert.equal(c.authMode, 'open');
  assert.equal(c.plans.anonymousPlan, 'free');
  assert.deepEqual(c.plans.plans.free.rateLimits.api, { max: 60, windowSec: 60 });
  assert.deepEqual(c.plans.plans.free.rateLimits.uploads, { max: 10, windowSec: 300 });
  assert.deepEqual(c.plans.plans.free.rateLimits.voiceClones, { max: 3, windowSec: 3600 });
  assert.ok(c.plans.plans.pro.priorityBase < c.plans.plans.free.priorityBase);
});

test('each bad plans file stops start-up with a message naming the file and the field', () => {
  const cases: [(p: Json) => void, RegExp][] = [
    [(p) => delete p.plans.free.quotas.maxBytes, /plans\.free\.quotas.*maxBytes/],
    [(p) => (p.plans.pro.rateLimits.api.max = 0), /plans\.pro\.rateLimits\.api\.max: must be >= 1/],
    [(p) => (p.plans.free.maxJobPriority = 'urgent'), /plans\.free\.maxJobPriority/],
    [(p) => (p.plans.free.extra = 1), /plans\.free/],
    [(p) => (p.anonymousPlan = 'gold'), /anonymousPlan: "gold" is not a plan/],
  ];
  for (const [edit, message] of cases) {
    const file = writePlans(dir, shippedPlans(), edit as never);
    assert.throws(
      () => loadConfig({ PLANS_FILE: file }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VC_ERR_CONFIG');
        assert.match(err.message, /PLANS_FILE=/);
        assert.match(err.message, message);
        return true;
      },
    );
  }
  const broken = path.join(dir, 'broken.json');
  writeFileSync(broken, '{ "plans": ');
  assert.throws(() => loadConfig({ PLANS_FILE: broken }), /PLANS_FILE=.*broken\.json/);
  assert.throws(() => loadConfig({ AUTH_MODE: 'everyone' }), /AUTH_MODE/);
});

test('per-user overrides replace single fields of the plan', () => {
  const plans = shippedPlans();
  const p = effectivePlan(plans, 'pro', { quotas: { maxBytes: 5000 }, maxActiveJobs: 1 });
  assert.equal(p.name, 'pro');
  assert.equal(p.quotas.maxBytes, 5000);
  assert.equal(p.quotas.maxFiles, plans.plans.pro.quotas.maxFiles);
  assert.equal(p.maxActiveJobs, 1);
});

// biome-ignore lint/suspicious/noExplicitAny: the test edits the plans document field by field
type Json = any;
