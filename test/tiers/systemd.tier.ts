// The systemd tier booted for real: `deploy-multiuser.sh systemd tiny --root R` installs into a
// Debian 12 root, which then boots with systemd as PID 1 under systemd-nspawn (never systemd
// on the host). Run by `npm run test:tiers`, not by `npm test` (it needs root, debootstrap and
// a few minutes). The tier is `tiny` because it fits this 2-core machine; every other tier
// renders from the same code and data (`--dry-run`, test/integration/deploy-tiers.test.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadTiers, tierPlan } from '../../src/deploy/index.js';
import { parseCpuList } from '../../workers/pool/index.js';
import type { Json } from '../helpers/client.js';
import { durationOf, humanSpeech, speechClip } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { Container, must, run } from './helpers/nspawn.js';
import { DEPLOY_SCRIPT, freshSystemdRoot, NETNS_CLIENT, REPO } from './helpers/roots.js';

const TIER = 'tiny';
const BASE = 'http://127.0.0.1:80';
const API_UNITS = ['vcfarm-api@8081.service', 'vcfarm-api@8082.service'];
const WORKER_UNITS = ['vcfarm-worker@0.service', 'vcfarm-worker@1.service'];
const ALL_UNITS = ['vcfarm-redis.service', 'vcfarm-haproxy.service', ...API_UNITS, ...WORKER_UNITS];
/** Exposure `systemd-analyze security` may rate each unit at most, ×10 (see README: Deploying). */
const SECURITY_THRESHOLD = 20;

let work: string;
let root: string;
let fixtures: string;
let box: Container | undefined;
let apiKey: string;

/** The netns client inside the container's network; its JSON answer. */
async function client(...args: string[]): Promise<Json> {
  if (!box) throw new Error('not booted');
  const r = await box.inNetns(['node', NETNS_CLIENT, args[0], BASE, ...args.slice(1)], 300_000);
  if (r.code !== 0) throw new Error(`netns-client ${args[0]}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function waitHealthy(): Promise<void> {
  await waitUntil(
    async () => {
      const r = await box?.inNetns(['node', NETNS_CLIENT, 'health', BASE]);
      return r?.code === 0 && JSON.parse(r.stdout).status === 200;
    },
    120_000,
    'HAProxy to answer /health with 200',
  );
}

before(async () => {
  ({ work, root } = await freshSystemdRoot());
  fixtures = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-tier-fixtures-'));
  await must('bash', [DEPLOY_SCRIPT, 'systemd', TIER, '--root', root], 300_000);
  // Short job locks, so a job whose worker was killed is picked up again within seconds.
  await writeFile(
    path.join(root, 'etc/vcfarm/vcfarm.local.env'),
    'JOB_LOCK_MS=5000\nSTALLED_INTERVAL_MS=2000\n',
  );
});

after(async () => {
  await box?.poweroff();
  if (work) await rm(work, { recursive: true, force: true });
  if (fixtures) await rm(fixtures, { recursive: true, force: true });
});

test('--dry-run prints exactly the files the install wrote', async () => {
  const out = await must('bash', [DEPLOY_SCRIPT, 'systemd', TIER, '--dry-run', '--root', root]);
  const sections = out.split(/^### /m).slice(1);
  let files = 0;
  for (const section of sections) {
    const [header, ...body] = section.split('\n');
    if (header.includes(' ')) continue; // the app and the credentials: described, not printed
    const installed = await readFile(header, 'utf8');
    assert.equal(`${body.join('\n').replace(/\n+$/, '')}`, installed.replace(/\n+$/, ''), header);
    files++;
  }
  assert.ok(files >= 12, `${files} files compared`);
  assert.match(
    out,
    /systemctl --root=\S+ enable vcfarm\.target .*vcfarm-api@8082\.service .*vcfarm-worker@1\.service/,
  );
  for (const name of ['admin-token', 'redis-password', 'stats-password']) {
    const secret = (await readFile(path.join(root, 'etc/vcfarm/credentials', name), 'utf8')).trim();
    assert.ok(secret.length >= 32);
    assert.ok(!out.includes(secret), `${name} is not printed`);
  }
});

test('static checks: systemd-analyze verify says nothing, security exposure within the threshold', async () => {
  for (const unit of ['vcfarm.target', ...ALL_UNITS]) {
    const r = await run('systemd-analyze', ['verify', '--man=no', `--root=${root}`, unit]);
    assert.equal(`${r.stdout}${r.stderr}`, '', `verify ${unit}`);
    assert.equal(r.code, 0);
  }
  for (const unit of ALL_UNITS) {
    const r = await run('systemd-analyze', [
      'security',
      '--offline=yes',
      `--root=${root}`,
      `--threshold=${SECURITY_THRESHOLD}`,
      unit,
    ]);
    assert.equal(r.code, 0, `security ${unit}: ${r.stdout.split('\n').slice(-2).join(' ')}`);
  }
  // The checks can fail: a unit with a bad Restart= and one with no hardening are caught.
  const broken = path.join(root, 'etc/systemd/system/vcfarm-broken.service');
  await writeFile(broken, '[Service]\nExecStart=/usr/bin/true\nRestart=sometimes\n');
  try {
    const r = await run('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'vcfarm-broken.service']);
    assert.match(`${r.stdout}${r.stderr}`, /restart specifier/);
    const s = await run('systemd-analyze', [
      'security',
      '--offline=yes',
      `--root=${root}`,
      `--threshold=${SECURITY_THRESHOLD}`,
      'vcfarm-broken.service',
    ]);
    assert.notEqual(s.code, 0);
  } finally {
    await rm(broken);
  }
});

test('boots: every unit active, the service answers through HAProxy', async () => {
  box = await Container.boot(root, path.join(work, 'boot.log'));
  await waitHealthy();
  for (const unit of ['vcfarm.target', ...ALL_UNITS])
    assert.equal(await box.systemctl('is-active', unit), 'active', unit);
  // The API runs as the vcfarm user, with the secrets as credentials, never in its environment.
  const pid = await box.show(API_UNITS[0], 'MainPID');
  const status = await box.exec(['cat', `/proc/${pid}/status`]);
  const uid = (await box.exec(['id', '-u', 'vcfarm'])).stdout.trim();
  assert.match(status.stdout, new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
  const environ = (await box.exec(['cat', `/proc/${pid}/environ`])).stdout;
  const adminToken = (await readFile(path.join(root, 'etc/vcfarm/credentials/admin-token'), 'utf8')).trim();
  assert.ok(environ.includes('ADMIN_TOKEN_FILE=') && !environ.includes(adminToken));
  // Its descriptor limit and WS_MAX_SOCKETS are the tier's (src/deploy/api-sizing.ts).
  const plan = tierPlan(loadTiers(path.join(REPO, 'config/tiers.json')), TIER);
  assert.ok(environ.split('\0').includes(`WS_MAX_SOCKETS=${plan.apiWsMaxSockets}`), 'WS_MAX_SOCKETS');
  const limits = (await box.exec(['cat', `/proc/${pid}/limits`])).stdout;
  assert.match(limits, new RegExp(`^Max open files\\s+${plan.apiNofile}\\s+${plan.apiNofile}\\s`, 'm'));
  // Redis refuses a client without the password.
  const noAuth = await box.exec(['redis-cli', '-h', '127.0.0.1', 'ping']);
  assert.match(noAuth.stdout, /NOAUTH/);

  const user = await client('user', adminToken);
  assert.equal(user.status, 201);
  apiKey = user.body.apiKey;
});

test('a conversion completes through HAProxy', async () => {
  assert.ok(box, 'booted');
  const input = speechClip(path.join(fixtures, 'six.wav'), 6);
  const { jobId } = await client('submit', apiKey, input);
  const out = path.join(fixtures, 'six-out.wav');
  const done = await client('wait', apiKey, jobId, '240000', out);
  assert.equal(done.job.state, 'completed', JSON.stringify(done.job.error));
  assert.equal(done.resultStatus, 200);
  assert.ok(Math.abs(durationOf(out) - 6) < 0.1, `result lasts ${durationOf(out)} s`);
});

test("worker threads' affinity matches CPUAffinity= of their unit", async () => {
  assert.ok(box, 'booted');
  for (const unit of WORKER_UNITS) {
    const wanted = parseCpuList((await box.show(unit, 'CPUAffinity')).replace(/\s+/g, ','));
    assert.deepEqual(wanted, [Number(unit.match(/@(\d+)/)?.[1])], `${unit} CPUAffinity`);
    const pid = await box.show(unit, 'MainPID');
    const tasks = await box.exec(['sh', '-c', `grep -H Cpus_allowed_list /proc/${pid}/task/*/status`]);
    const masks = tasks.stdout
      .trim()
      .split('\n')
      .map((l) => parseCpuList(l.split(/\s+/).pop() ?? ''));
    assert.ok(masks.length >= 5, `${unit}: ${masks.length} threads`);
    for (const m of masks) assert.deepEqual(m, wanted, `${unit}: a thread runs on ${m}`);
    const log = await box.journal(unit);
    assert.match(log, /"msg":"worker process ready"/);
    const ready = JSON.parse(log.split('\n').find((l) => l.includes('worker process ready')) ?? '{}');
    assert.deepEqual(ready.cores, wanted, `${unit}: the pool sized itself to its cores`);
  }
});

test('a worker killed with SIGKILL is restarted by systemd and its job still completes', async () => {
  assert.ok(box, 'booted');
  const input = humanSpeech(4); // real speech, about 30 s
  const { jobId } = await client('submit', apiKey, input);
  // 1. The job runs on one of the workers.
  let seen: unknown;
  await waitUntil(
    async () => {
      seen = await client('job', apiKey, jobId);
      return (seen as { state?: string }).state === 'active';
    },
    120_000,
    'the job to start',
  ).catch((err) => {
    throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
  });
  const before = await Promise.all(WORKER_UNITS.map(async (u) => Number(await box?.show(u, 'NRestarts'))));
  // 2. Both workers die at once, as in an OOM kill of the pair; systemd restarts them.
  await box.systemctl('kill', '-s', 'KILL', ...WORKER_UNITS);
  await waitUntil(
    async () => {
      const counts = await Promise.all(
        WORKER_UNITS.map(async (u) => Number(await box?.show(u, 'NRestarts'))),
      );
      return counts.every((n, i) => n > before[i]);
    },
    60_000,
    'systemd to restart both workers',
  );
  await waitUntil(
    async () =>
      (await Promise.all(WORKER_UNITS.map((u) => box?.show(u, 'ActiveState')))).every((s) => s === 'active'),
    30_000,
    'both workers to be active again',
  );
  // 3. The job is picked up again once its lock expires, and completes.
  const out = path.join(fixtures, 'long-out.wav');
  const done = await client('wait', apiKey, jobId, '300000', out);
  assert.equal(done.job.state, 'completed', JSON.stringify(done.job.error));
  assert.ok(Math.abs(durationOf(out) - durationOf(input)) < 0.1, `result lasts ${durationOf(out)} s`);
});

test('systemctl stop vcfarm.target drains: no failed request, the running job finishes', async () => {
  assert.ok(box, 'booted');
  // About 4 min of speech: still converting when the stop begins, 2 s after the job is seen
  // running (60 s used to be enough; since the source is analysed once from its first 30 s, a
  // 60 s job finished before the stop began).
  const input = humanSpeech(32);
  const small = speechClip(path.join(fixtures, 'small.wav'), 3);
  const { jobId } = await client('submit', apiKey, input);
  let seen: unknown;
  await waitUntil(
    async () => {
      seen = await client('job', apiKey, jobId);
      return (seen as { state?: string }).state === 'active';
    },
    120_000,
    'the job to start',
  ).catch((err) => {
    throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
  });

  // 1. Uploads run back to back through HAProxy while the stack stops.
  const uploads = box.inNetns(['node', NETNS_CLIENT, 'uploads', BASE, apiKey, small, '120000'], 180_000);
  await new Promise((r) => setTimeout(r, 2000));
  const stopAt = Date.now();
  // 2. The target's stop reaches every unit (PartOf=); the workers stop only after their job.
  await box.systemctl('stop', 'vcfarm.target');
  await waitUntil(
    async () =>
      (await Promise.all(ALL_UNITS.map((u) => box?.show(u, 'ActiveState')))).every((s) => s === 'inactive'),
    300_000,
    'every unit to stop',
  );
  const stoppedAt = Date.now();
  const { requests } = JSON.parse((await uploads).stdout) as {
    requests: { start: number; end: number; status?: number; error?: string }[];
  };
  // 3. Every request either succeeded or, once HAProxy had stopped listening, was refused.
  const failed = requests.filter((r) => r.status !== 201 && r.error !== 'ECONNREFUSED');
  assert.deepEqual(failed, [], 'no request failed');
  const refused = requests.filter((r) => r.error === 'ECONNREFUSED');
  assert.equal(refused.length, 1, 'only the last request found nothing listening');
  assert.ok(
    requests.some((r) => r.status === 201 && r.start < stopAt && r.end > stopAt),
    'a request in flight when the stop began was answered',
  );
  for (const unit of ALL_UNITS) {
    assert.equal(await box.show(unit, 'ActiveState'), 'inactive', unit);
    assert.equal(await box.show(unit, 'Result'), 'success', `${unit} stopped cleanly, not killed`);
  }
  assert.match(await box.journal(WORKER_UNITS[0]), /worker process stopped/);

  // 4. Started again, the job is completed, and it finished before the stop did: it was not
  //    cut off and retried after the restart.
  await box.systemctl('start', 'vcfarm.target');
  await waitHealthy();
  const job = await client('job', apiKey, jobId);
  assert.equal(job.state, 'completed');
  assert.ok(job.finishedAt > stopAt && job.finishedAt < stoppedAt, 'finished during the drain');

  // 5. The deploy script's status and stop: stop returns once everything has stopped.
  const installed = '/opt/vcfarm/scripts/deploy-multiuser.sh';
  const status = await box.exec(['bash', installed, 'systemd', 'status']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /vcfarm-worker@1\.service +active running/);
  const stop = await box.exec(['bash', installed, 'systemd', 'stop'], 300_000);
  assert.equal(stop.code, 0, stop.stderr);
  for (const unit of ALL_UNITS) assert.equal(await box.show(unit, 'ActiveState'), 'inactive', unit);
  assert.equal((await box.exec(['bash', installed, 'systemd', 'status'])).code, 3, 'status says stopped');
});
