// Hosts apart under docker: `deploy-multiuser.sh docker tiny --role api` and `--role worker`
// render two compose hosts (two projects, each with its own deploy dir and secrets) booted for
// real under a hand-started dockerd, against one Redis outside both: a TLS-only redis-server
// with a password on the host, bound to the docker0 bridge's address (standing for a Redis host
// both machines reach; its certificate is issued for that address, the CA mounted into the
// containers by the rendered override). The workspace is one host directory bind-mounted at
// /data in both (WORKSPACES_DIR, standing for an NFS export). Proves: each host runs its role's
// containers only; a conversion submitted through the API host's HAProxy is converted by the
// worker host's container and its result is served by the API host. The API host is deployed
// with Docker Compose v2 (`docker compose`, the plugin from test/tiers/compose-v2.sh, which the
// deploy script prefers when present) and the worker host with Debian 12's docker-compose v1:
// both boot the same files. Run by `npm run test:tiers`.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadTiers, tierPlan } from '../../src/deploy/index.js';
import { durationOf, speechClip } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/processes.js';
import { redisAnswers } from '../helpers/redis.js';
import { makeTestPki, redisTlsConf, type TestPki } from '../helpers/tls-certs.js';
import { DEBIAN_BASE, Dockerd, NODE_BASE } from './helpers/dockerd.js';
import { deployDocker, REPO } from './helpers/roots.js';
import { createTierUser } from './helpers/uploads-loop.js';

const execFileAsync = promisify(execFile);
const TIER = 'tiny';
const PASSWORD = 'docker-roles-test-password-0123456789abcdef';
/** The vcfarm user of the image (Dockerfile): the shared workspace must be its. */
const APP_UID = 10001;
const ROLES = ['api', 'worker'] as const;
type Role = (typeof ROLES)[number];
const PROJECTS: Record<Role, string> = {
  api: `vcfarmapi${process.pid}`,
  worker: `vcfarmwk${process.pid}`,
};

let dockerd: Dockerd | undefined;
let work: string;
let pki: TestPki;
let redis: ChildProcess | undefined;
let redisUrl: string;
let base: string;
/** Compose v2's plugin binary (cached); the API host runs it, the worker host v1. */
let composeV2: string;
const envs: Partial<Record<Role, NodeJS.ProcessEnv>> = {};

const deployDir = (role: Role): string => path.join(work, `deploy-${role}`);
/** Container names: v2 joins project, service and index with '-', v1 with '_'. */
const container = (role: Role, service: string, n = 1): string =>
  [PROJECTS[role], service, n].join(role === 'api' ? '-' : '_');

const deploy = (role: Role, ...args: string[]) => deployDocker(envs[role], ...args);

/** docker-compose on one role host's project, as the deploy script ran it. */
async function compose(role: Role, ...args: string[]): Promise<string> {
  const files = [
    '-f',
    path.join(REPO, 'docker-compose.production.yml'),
    '-f',
    path.join(deployDir(role), 'override.yml'),
  ];
  const bin = role === 'api' ? composeV2 : 'docker-compose';
  const { stdout } = await execFileAsync(bin, ['-p', PROJECTS[role], ...files, ...args], {
    env: envs[role],
    timeout: 600_000,
  });
  return stdout;
}

/** The names of one project's containers, running or not. */
async function containersOf(role: Role): Promise<string[]> {
  const ps = await dockerd?.docker([
    'ps',
    '-a',
    '--filter',
    `label=com.docker.compose.project=${PROJECTS[role]}`,
    '--format',
    '{{.Names}}',
  ]);
  return (ps?.stdout ?? '').split('\n').filter(Boolean).sort();
}

/** IPv4 address of a host interface (docker0: the bridge dockerd made). */
async function ipv4Of(dev: string): Promise<string> {
  const { stdout } = await execFileAsync('ip', ['-4', '-o', 'addr', 'show', 'dev', dev]);
  const m = stdout.match(/inet (\d+\.\d+\.\d+\.\d+)\//);
  if (!m) throw new Error(`no IPv4 address on ${dev}: ${stdout}`);
  return m[1];
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-tier-docker-roles-'));
  dockerd = await Dockerd.start();
  await dockerd.baseImages();
  composeV2 = (
    await execFileAsync('bash', [path.join(REPO, 'test/tiers/compose-v2.sh')], { timeout: 600_000 })
  ).stdout.trim();

  // 1. The shared Redis: TLS only, a password, on the docker0 bridge (no other interface).
  const redisIp = await ipv4Of('docker0');
  pki = await makeTestPki(work, [redisIp]);
  const port = await freePort();
  const conf = path.join(work, 'redis.conf');
  const lines = [
    ...redisTlsConf(pki, port),
    `bind ${redisIp}`,
    `requirepass ${PASSWORD}`,
    `dir ${work}`,
    'save ""',
  ];
  await writeFile(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
  redis = spawn('redis-server', [conf], { stdio: 'ignore' });
  redisUrl = `rediss://${redisIp}:${port}/0`;
  const passwordFile = path.join(work, 'redis-password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  // Reached from here only through its address on the bridge, as the containers reach it.
  await waitUntil(
    () => redisAnswers(port, PASSWORD, { ca: pki.ca }, redisIp),
    10_000,
    'the shared TLS Redis',
  );
  assert.equal(await redisAnswers(port, PASSWORD, { ca: pki.ca }), false, 'Redis listens on loopback too');

  // 2. The shared workspace, owned by the image's vcfarm user.
  const shared = path.join(work, 'shared');
  await mkdir(shared, { mode: 0o750 });
  await chown(shared, APP_UID, APP_UID);

  const [http, stats] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${http}`;
  for (const role of ROLES)
    envs[role] = {
      ...dockerd.env,
      VCFARM_NODE_BASE: NODE_BASE,
      VCFARM_DEBIAN_BASE: DEBIAN_BASE,
      VCFARM_DEPLOY_DIR: deployDir(role),
      COMPOSE_PROJECT_NAME: PROJECTS[role],
      REDIS_PASSWORD_FILE: passwordFile,
      REDIS_TLS_CA_FILE: pki.caFile,
      WORKSPACES_DIR: shared,
      HTTP_ADDR: '127.0.0.1',
      HTTP_PORT: String(http),
      STATS_ADDR: '127.0.0.1',
      STATS_PORT: String(stats),
      // The docker CLI finds plugins in DOCKER_CONFIG/cli-plugins: `docker compose` is v2 there.
      ...(role === 'api' ? { DOCKER_CONFIG: path.dirname(path.dirname(composeV2)) } : {}),
    };
});

after(async () => {
  if (dockerd && work)
    for (const role of ROLES) await compose(role, 'down', '-v', '-t', '30').catch(() => {});
  await dockerd?.stop();
  if (redis && redis.exitCode === null && redis.signalCode === null) {
    const exited = new Promise((r) => redis?.once('exit', r));
    redis.kill('SIGKILL');
    await exited;
  }
  if (work) await rm(work, { recursive: true, force: true });
});

test('a worker-only and an API-only compose host come up against the shared Redis, each with its own containers only', async () => {
  // 1. The worker host first (it needs nothing but Redis), then the API host, which waits until
  //    its HAProxy answers /health (the API replicas reach the TLS Redis).
  for (const role of ['worker', 'api'] as const) {
    const up = await deploy(role, TIER, '--role', role, '--redis-url', redisUrl);
    assert.equal(up.code, 0, `${role}: ${up.stdout}\n${up.stderr}`);
    assert.ok(!`${up.stdout}${up.stderr}`.includes(PASSWORD), `${role}: the password is in the output`);
    // The script ran the compose this host has: v2 as a docker plugin, else v1.
    const ran = role === 'api' ? /^\+ .* docker compose -p / : /^\+ .* docker-compose -p /;
    assert.match(up.stdout, new RegExp(ran.source, 'm'), `${role}: ${up.stdout}`);
  }
  // 2. Each project holds its role's containers and nothing else: no Redis, no worker on the
  //    API host, no API or HAProxy on the worker host.
  assert.deepEqual(await containersOf('worker'), [container('worker', 'worker')]);
  assert.deepEqual(await containersOf('api'), [
    container('api', 'api'),
    container('api', 'api', 2),
    container('api', 'haproxy'),
  ]);
  // 3. Healthy: the worker's readiness (takes jobs: Redis writable) and the API replicas'.
  for (const [role, service] of [
    ['worker', 'worker'],
    ['api', 'api'],
  ] as const)
    await waitUntil(
      async () =>
        (await dockerd?.inspect(container(role, service), '{{.State.Health.Status}}')) === 'healthy',
      180_000,
      `${service} healthy`,
    );
  assert.equal((await fetch(`${base}/health`)).status, 200);
  // The API replicas' descriptor limit and WS_MAX_SOCKETS are the tier's (src/deploy/api-sizing.ts),
  // as the Node process in the container sees them.
  const plan = tierPlan(loadTiers(path.join(REPO, 'config/tiers.json')), TIER);
  const node = await dockerd?.docker([
    'exec',
    container('api', 'api'),
    'sh',
    '-c',
    // tini (PID 1) has one child, Node: the first word of its children list.
    'read -r p _ </proc/1/task/1/children; tr "\\0" "\\n" </proc/$p/environ; cat /proc/$p/limits',
  ]);
  assert.equal(node?.code, 0, node?.stderr);
  assert.match(node?.stdout ?? '', new RegExp(`^WS_MAX_SOCKETS=${plan.apiWsMaxSockets}$`, 'm'));
  assert.match(
    node?.stdout ?? '',
    new RegExp(`^Max open files\\s+${plan.apiNofile}\\s+${plan.apiNofile}\\s`, 'm'),
  );
  // The rendered override pointed both at the shared Redis and the shared workspace.
  for (const role of ROLES) {
    const merged = await compose(role, 'config');
    assert.ok(merged.includes(`REDIS_URL: ${redisUrl}`), role);
    assert.match(merged, /REDIS_TLS_CA_FILE: \/run\/vcfarm\/redis-ca\.pem/);
  }
});

test('a conversion submitted through the API host is converted on the worker host and served by the API host', async () => {
  assert.ok(dockerd);
  const user = await createTierUser(base, path.join(deployDir('api'), 'secrets/admin-token'));
  const models = await user.request('GET', '/api/models');
  const voiceId = models.body.models[0].presets[0].id;
  const input = speechClip(path.join(work, 'four.wav'), 4);
  const up = await user.upload(input);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const { id } = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', voiceId });
  const job = await user.waitForJob(id, 300_000);
  assert.equal(job.state, 'completed', JSON.stringify(job.error));
  // The worker host's container converted it (its log), and the API host serves the result it
  // wrote into the shared workspace.
  const logs = (await dockerd.docker(['logs', container('worker', 'worker')])).stdout;
  assert.ok(
    logs.split('\n').some((l) => l.includes('conversion completed') && l.includes(id)),
    'the worker host logged the conversion',
  );
  const result = await user.download(id);
  assert.equal(result.status, 200);
  const out = path.join(work, 'four-out.wav');
  await writeFile(out, result.bytes);
  assert.ok(Math.abs(durationOf(out) - 4) < 0.1);
});
