import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
      assert.match(out, new RegExp(`^ {6}WS_MAX_SOCKETS: "${plan.apiWsMaxSockets}"$`, 'm'));
      assert.match(out, new RegExp(`^ {8}soft: ${plan.apiNofile}$`, 'm'));
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

/** The body of the dry run's `### <path>` section whose path ends with `suffix`. */
function section(out: string, suffix: string): string {
  const part = out.split(/^### /m).find((p) => p.split('\n')[0].endsWith(suffix));
  assert.ok(part, `the dry run prints ${suffix}`);
  return part.slice(part.indexOf('\n') + 1).replace(/\n+$/, '\n');
}

/** `promtool check config` on a rendered scrape config, with the rules beside it and the admin
 * token it names pointed at a file that exists (promtool checks that credential files exist). */
async function promtoolCheck(dir: string, config: string): Promise<{ code: number; out: string }> {
  const token = path.join(dir, 'admin-token');
  await writeFile(token, 'x'.repeat(48), { mode: 0o600 });
  await writeFile(path.join(dir, 'prometheus.yml'), config.replace(/(credentials_file: ).*$/m, `$1${token}`));
  await copyFile(
    path.join(path.dirname(TIERS_FILE), '../deploy/prometheus/vcfarm-rules.yml'),
    path.join(dir, 'vcfarm-rules.yml'),
  );
  try {
    const { stdout, stderr } = await execFileAsync('promtool', [
      'check',
      'config',
      path.join(dir, 'prometheus.yml'),
    ]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout}${e.stderr}` };
  }
}

/** The targets of one job of a rendered scrape config (static_configs, one per line or inline). */
function targetsOf(config: string, job: string): string[] {
  const block = config.split(/^ {2}- job_name: /m).find((b) => b.startsWith(`${job}\n`)) ?? '';
  return [...block.matchAll(/(?:^\s+- |")([\w.-]+:\d+)/gm)].map((m) => m[1]);
}

test('systemd --dry-run: each worker its own WORKER_METRICS_PORT, a scrape config with every process, descriptor limits', async () => {
  const tiers = loadTiers(TIERS_FILE);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-sd-prom-'));
  const root = path.join(dir, 'root');
  let config = '';
  try {
    for (const name of ['tiny', 'small', 'medium', 'large', 'xlarge']) {
      const plan = tierPlan(tiers, name);
      const r = await dryRun(['systemd', name, '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      // 1. One drop-in per worker instance, each with a port of its own.
      const ports = plan.workerCpus.map((cpus) => {
        const conf = section(r.stdout, `/vcfarm-worker@${cpus}.service.d/metrics.conf`);
        const m = conf.match(/^Environment=WORKER_METRICS_PORT=(\d+)$/m);
        assert.ok(m, `${name}: worker ${cpus} has WORKER_METRICS_PORT`);
        return Number(m[1]);
      });
      assert.equal(new Set(ports).size, plan.workerProcesses, `${name}: no two workers share a port`);
      // 2. The scrape config lists every API instance and every worker port, and promtool accepts it.
      config = section(r.stdout, '/etc/vcfarm/prometheus/prometheus.yml');
      const apiPorts = Array.from({ length: plan.apiInstances }, (_, i) => `127.0.0.1:${8081 + i}`);
      assert.deepEqual(targetsOf(config, 'vcfarm-api'), apiPorts, name);
      assert.deepEqual(
        targetsOf(config, 'vcfarm-worker'),
        ports.map((p) => `127.0.0.1:${p}`),
        name,
      );
      const check = await promtoolCheck(dir, config);
      assert.equal(check.code, 0, `${name}: ${check.out}`);
      // 3. Descriptor limits: the API instances, HAProxy and the workers raise theirs.
      const apiTier = section(r.stdout, '/vcfarm-api@.service.d/tier.conf');
      assert.match(apiTier, new RegExp(`^LimitNOFILE=${plan.apiNofile}$`, 'm'));
      // WS_MAX_SOCKETS from that limit (src/deploy/api-sizing.ts), shown with its arithmetic.
      assert.match(apiTier, new RegExp(`^Environment=WS_MAX_SOCKETS=${plan.apiWsMaxSockets}$`, 'm'));
      assert.equal(plan.apiWsMaxSockets, plan.apiNofile - plan.serverMaxconn - 256, name);
      assert.match(apiTier, new RegExp(`after ${plan.serverMaxconn} requests and 256 for Redis`));
      assert.match(
        section(r.stdout, '/vcfarm-haproxy.service.d/tier.conf'),
        new RegExp(`^LimitNOFILE=${plan.haproxyNofile}$`, 'm'),
      );
      assert.match(section(r.stdout, '/vcfarm-worker@.service.d/tier.conf'), /^LimitNOFILE=\d+$/m);
    }
    // 4. A worker-only host's scrape config has its workers only; an API-only host's its API only.
    const passwordFile = path.join(dir, 'redis-password');
    await writeFile(passwordFile, 'remote-password-0123456789\n', { mode: 0o600 });
    const remote = { REDIS_URL: 'redis://10.1.0.1:6379', REDIS_PASSWORD_FILE: passwordFile };
    const worker = await dryRun(['systemd', 'medium', '--root', root, '--role', 'worker'], remote);
    assert.equal(worker.code, 0, worker.stderr);
    const workerConfig = section(worker.stdout, '/etc/vcfarm/prometheus/prometheus.yml');
    assert.deepEqual(targetsOf(workerConfig, 'vcfarm-api'), []);
    assert.deepEqual(targetsOf(workerConfig, 'vcfarm-worker'), ['127.0.0.1:9465', '127.0.0.1:9466']);
    assert.equal((await promtoolCheck(dir, workerConfig)).code, 0);
    const api = await dryRun(['systemd', 'medium', '--root', root, '--role', 'api'], remote);
    assert.equal(api.code, 0, api.stderr);
    const apiConfig = section(api.stdout, '/etc/vcfarm/prometheus/prometheus.yml');
    assert.equal(targetsOf(apiConfig, 'vcfarm-api').length, 3);
    assert.deepEqual(targetsOf(apiConfig, 'vcfarm-worker'), []);
    // 5. A TLS Redis with a private CA: the CA is installed and every process is pointed at it.
    const caFile = path.join(dir, 'ca.pem');
    await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const tls = await dryRun(['systemd', 'medium', '--root', root, '--role', 'worker'], {
      ...remote,
      REDIS_URL: 'rediss://10.1.0.1:6380',
      REDIS_TLS_CA_FILE: caFile,
    });
    assert.equal(tls.code, 0, tls.stderr);
    assert.match(
      section(tls.stdout, '/etc/vcfarm/vcfarm.env'),
      /^REDIS_TLS_CA_FILE=\/etc\/vcfarm\/redis-ca\.pem$/m,
    );
    assert.match(section(tls.stdout, '/etc/vcfarm/redis-ca.pem'), /BEGIN CERTIFICATE/);
    // 6. The check can fail: a misspelt field is refused.
    const broken = await promtoolCheck(dir, config.replace('scrape_interval:', 'scrape_intervall:'));
    assert.notEqual(broken.code, 0);
    assert.equal(existsSync(root), false, 'nothing was written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** docker-compose (v1 here) on the production file with a rendered override; its stdout. */
async function composeConfig(deployDir: string, override: string, ...args: string[]) {
  const file = path.join(deployDir, 'override.yml');
  await writeFile(file, override);
  const compose = path.join(path.dirname(TIERS_FILE), '../docker-compose.production.yml');
  const { stdout } = await execFileAsync('docker-compose', ['-f', compose, '-f', file, 'config', ...args], {
    env: { ...process.env, VCFARM_DEPLOY_DIR: deployDir },
  });
  return stdout;
}

test('docker --dry-run --role api|worker: an API-only and a worker-only host against a remote Redis, valid for compose', async () => {
  const plan = tierPlan(loadTiers(TIERS_FILE), 'medium');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-dk-role-'));
  const deployDir = path.join(dir, 'deploy');
  const shared = path.join(dir, 'shared');
  const passwordFile = path.join(dir, 'redis-password');
  const caFile = path.join(dir, 'ca.pem');
  await writeFile(passwordFile, 'the-remote-redis-password-0123456789\n', { mode: 0o600 });
  await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const remote = { REDIS_PASSWORD_FILE: passwordFile, REDIS_TLS_CA_FILE: caFile, WORKSPACES_DIR: shared };
  const url = 'rediss://redis.internal:6380/0';
  const check = path.join(dir, 'check');
  try {
    await execFileAsync('mkdir', ['-p', check]);
    // 1. Worker host: the worker only, started without its dependencies (no local Redis).
    const worker = await dryRun(['docker', 'medium', '--role', 'worker', '--redis-url', url], {
      ...remote,
      VCFARM_DEPLOY_DIR: deployDir,
    });
    assert.equal(worker.code, 0, worker.stderr);
    assert.match(worker.stdout, / up -d --build --no-deps worker$/m);
    assert.doesNotMatch(worker.stdout, /the-remote-redis-password/);
    const workerOverride = section(worker.stdout, '/override.yml');
    assert.doesNotMatch(workerOverride, /^ {2}(api|redis|haproxy):$/m);
    const workerMerged = await composeConfig(check, workerOverride);
    const workerService = workerMerged.split(/^ {2}worker:$/m)[1] ?? '';
    assert.match(workerService, /REDIS_URL: rediss:\/\/redis\.internal:6380\/0/);
    assert.match(workerService, /REDIS_TLS_CA_FILE: \/run\/vcfarm\/redis-ca\.pem/);
    assert.match(workerService, /WORKER_METRICS_PORT: '9465'/);
    assert.match(workerService, new RegExp(`cpuset: '?${plan.workerCpuset}'?$`, 'm'));
    assert.ok(workerService.includes(`- ${shared}:/data:rw`), 'the shared workspace is mounted');
    assert.equal((await promtoolCheck(check, section(worker.stdout, '/prometheus.yml'))).code, 0);
    assert.deepEqual(targetsOf(section(worker.stdout, '/prometheus.yml'), 'vcfarm-worker'), ['worker:9465']);

    // 2. API host: the replicas and HAProxy, the same remote Redis.
    const api = await dryRun(['docker', 'medium', '--role', 'api', '--redis-url', url], {
      ...remote,
      VCFARM_DEPLOY_DIR: deployDir,
    });
    assert.equal(api.code, 0, api.stderr);
    assert.match(
      api.stdout,
      new RegExp(` up -d --build --no-deps --scale api=${plan.apiInstances} api haproxy$`, 'm'),
    );
    const apiOverride = section(api.stdout, '/override.yml');
    assert.doesNotMatch(apiOverride, /^ {2}(worker|redis):$/m);
    const apiMerged = await composeConfig(check, apiOverride);
    const apiService = apiMerged.split(/^ {2}api:$/m)[1]?.split(/^ {2}\w+:$/m)[0] ?? '';
    assert.match(apiService, /REDIS_URL: rediss:\/\/redis\.internal:6380\/0/);
    assert.match(apiService, new RegExp(`soft: ${plan.apiNofile}`));
    // One environment for the replicas: the tier's socket cap beside the remote Redis.
    assert.match(apiService, new RegExp(`WS_MAX_SOCKETS: '${plan.apiWsMaxSockets}'`));
    await composeConfig(check, apiOverride, '-q');
    const apiProm = section(api.stdout, '/prometheus.yml');
    assert.match(apiProm, /job_name: vcfarm-api/);
    assert.doesNotMatch(apiProm, /vcfarm-worker/);
    assert.equal((await promtoolCheck(check, apiProm)).code, 0);

    // 3. The whole stack on one host, every tier: compose accepts the override; the worker
    //    serves metrics and the scrape config has both jobs.
    for (const name of ['tiny', 'small', 'medium', 'large', 'xlarge']) {
      const all = await dryRun(['docker', name], { VCFARM_DEPLOY_DIR: deployDir });
      assert.equal(all.code, 0, all.stderr);
      await composeConfig(check, section(all.stdout, '/override.yml'), '-q');
      const allProm = section(all.stdout, '/prometheus.yml');
      assert.deepEqual(targetsOf(allProm, 'vcfarm-worker'), ['worker:9465']);
      assert.match(allProm, /dns_sd_configs:\n\s+- names: \[api\]/);
      assert.equal((await promtoolCheck(check, allProm)).code, 0, name);
    }

    // 4. Refused, naming the setting: no shared workspace, a CA without TLS, no Redis at all.
    const bad = [
      [['--role', 'worker', '--redis-url', url], { ...remote, WORKSPACES_DIR: '' }, /needs WORKSPACES_DIR/],
      [
        ['--role', 'api', '--redis-url', 'redis://redis.internal:6379'],
        remote,
        /REDIS_TLS_CA_FILE is for a TLS Redis/,
      ],
      [['--role', 'api'], { WORKSPACES_DIR: shared }, /HOST_ROLE=api needs the shared Redis/],
    ] as const;
    for (const [args, env, message] of bad) {
      const r = await dryRun(['docker', 'medium', ...args], { ...env, VCFARM_DEPLOY_DIR: deployDir });
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.equal(existsSync(deployDir), false, 'nothing was written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
