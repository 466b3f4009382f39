import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../helpers/service.js';

// An operator's bad setting stops start-up with a message that says, in words, what the value must
// be: never the schema's regular expression.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TIER_PLAN = path.join(ROOT, 'dist/scripts/tier-plan.js');

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-startup-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a command to its end; its exit code and stderr. */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, DATA_DIR: path.join(dir, 'data'), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

/** No piece of a regular expression in what the operator reads. */
function noPattern(stderr: string): void {
  assert.doesNotMatch(stderr, /\^|\$["']|\\[sd]|\[[a-zA-Z0-9]-|\{\d+,\d+\}|must match pattern/, stderr);
}

const json = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));

test('bad environment variables: exit 78, each named with what it must be in words', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { REDIS_URL: 'http://localhost:6379' },
      /REDIS_URL="http:\/\/localhost:6379": must be a URL starting with redis:\/\/ or rediss:\/\//,
    ],
    [
      { AUTOSCALE: '4-1' },
      /AUTOSCALE="4-1": must be two whole numbers, min and max, separated by a comma \(1,4\)/,
    ],
    [
      { REDIS_SENTINELS: 'redis-a;redis-b' },
      /REDIS_SENTINELS="redis-a;redis-b": must be host:port pairs separated by commas/,
    ],
    [
      { WORKER_ID: 'worker one' },
      /WORKER_ID="worker one": must be a worker id: 1-64 letters, digits, '\.', '-' or '_'/,
    ],
    [
      { LOG_LEVEL: 'loud' },
      /LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent/,
    ],
    [
      { TRUSTED_PROXIES: 'proxy.local' },
      /TRUSTED_PROXIES="proxy\.local": must be IP addresses or CIDR ranges/,
    ],
  ];
  for (const [env, message] of cases) {
    const r = await run([CLI, 'api'], env);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, message);
    noPattern(r.stderr);
  }
});

test('a bad plans file: exit 78, the plan name and the anonymous plan said in words', async () => {
  const plans = json('config/plans.json');
  const [first] = Object.keys(plans.plans);
  plans.plans['Pro Plan'] = plans.plans[first as string];
  plans.anonymousPlan = 'Free!';
  const file = path.join(dir, 'plans.json');
  await writeFile(file, JSON.stringify(plans));
  const r = await run([CLI, 'api'], { PLANS_FILE: file });
  assert.equal(r.code, 78, r.stderr);
  assert.match(
    r.stderr,
    /plans: the name "Pro Plan" must be a plan name: 1-32 lower-case letters, digits, '-' or '_', starting with a letter/,
  );
  assert.match(r.stderr, /anonymousPlan: must be a plan name/);
  noPattern(r.stderr);
});

test('a bad tiers file: the deploy plan stops (exit 2) with the sizes and the tier name said in words', async () => {
  const tiers = json('config/tiers.json');
  const [name] = Object.keys(tiers.tiers);
  tiers.tiers[name as string].apiMemoryMax = '512MB';
  tiers.tiers[name as string].redisMaxMemory = '1G';
  tiers.tiers.Big = tiers.tiers[name as string];
  const file = path.join(dir, 'tiers.json');
  await writeFile(file, JSON.stringify(tiers));
  const r = await run([TIER_PLAN, name as string], { TIERS_FILE: file });
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /tiers: the name "Big" must be a tier name: lower-case letters, digits or '-', starting with a letter/,
  );
  assert.match(
    r.stderr,
    new RegExp(
      `tiers\\.${name}\\.apiMemoryMax: must be a size: a whole number then K, M, G or T \\(512M, 2G\\)`,
    ),
  );
  assert.match(
    r.stderr,
    new RegExp(
      `tiers\\.${name}\\.redisMaxMemory: must be a size in Redis's form: a whole number then mb or gb`,
    ),
  );
  noPattern(r.stderr);
});
