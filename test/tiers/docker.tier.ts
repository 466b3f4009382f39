// The docker tier booted for real: a hand-started dockerd (own socket and data root), base
// images built locally (no registry is reachable), then `deploy-multiuser.sh docker tiny`
// builds the images and brings docker-compose.production.yml up with docker-compose. Run by
// `npm run test:tiers`, not by `npm test`. HAProxy is published on a free loopback port only.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parseCpuList } from '../../workers/pool/index.js';
import type { ApiClient } from '../helpers/client.js';
import { durationOf, humanSpeech, speechClip } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/processes.js';
import { DEBIAN_BASE, Dockerd, NODE_BASE } from './helpers/dockerd.js';
import { deployDocker, REPO } from './helpers/roots.js';
import { createTierUser, uploadsUntilRefused } from './helpers/uploads-loop.js';

const execFileAsync = promisify(execFile);
const TIER = 'tiny';
const PROJECT = `vcfarmtier${process.pid}`;

let dockerd: Dockerd | undefined;
let work: string;
let base: string;
let env: NodeJS.ProcessEnv;
let user: ApiClient;

const deploy = (...args: string[]) => deployDocker(env, ...args);

const container = (service: string, n = 1): string => `${PROJECT}_${service}_${n}`;

async function compose(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    'docker-compose',
    [
      '-p',
      PROJECT,
      '-f',
      path.join(REPO, 'docker-compose.production.yml'),
      '-f',
      path.join(work, 'deploy/override.yml'),
      ...args,
    ],
    { env, timeout: 600_000 },
  );
  return stdout;
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-tier-docker-'));
  dockerd = await Dockerd.start();
  await dockerd.baseImages();
  const [http, stats] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${http}`;
  env = {
    ...dockerd.env,
    VCFARM_NODE_BASE: NODE_BASE,
    VCFARM_DEBIAN_BASE: DEBIAN_BASE,
    VCFARM_DEPLOY_DIR: path.join(work, 'deploy'),
    COMPOSE_PROJECT_NAME: PROJECT,
    HTTP_ADDR: '127.0.0.1',
    HTTP_PORT: String(http),
    STATS_ADDR: '127.0.0.1',
    STATS_PORT: String(stats),
    // A job whose worker was killed is run again within seconds.
    JOB_LOCK_MS: '5000',
    STALLED_INTERVAL_MS: '2000',
  };
});

after(async () => {
  if (dockerd && work) await compose('down', '-v', '-t', '30').catch(() => {});
  await dockerd?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('deploy: images build, the stack comes up, the dry run printed what was written', async () => {
  const dry = await deploy(TIER, '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  const up = await deploy(TIER);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  for (const f of ['override.yml', 'haproxy.cfg', 'prometheus.yml']) {
    const written = await readFile(path.join(work, 'deploy', f), 'utf8');
    const printed = dry.stdout.split(`### ${path.join(work, 'deploy', f)}\n`)[1]?.split('\n### ')[0];
    assert.equal(printed?.trimEnd(), written.trimEnd(), f);
  }
  // The compose files validate as the script used them, and validation can fail.
  await compose('config', '-q');
  const bad = path.join(work, 'bad.yml');
  await writeFile(bad, 'services:\n  worker:\n    mem_limits: 1g\n');
  await assert.rejects(
    execFileAsync(
      'docker-compose',
      ['-f', path.join(REPO, 'docker-compose.production.yml'), '-f', bad, 'config', '-q'],
      { env },
    ),
  );
});

test('every service is healthy; secrets, users and limits are as the tier says', async () => {
  assert.ok(dockerd);
  // The worker's healthcheck is its readiness on WORKER_METRICS_PORT (takes jobs).
  for (const s of ['redis', 'api', 'haproxy', 'worker']) {
    await waitUntil(
      async () => (await dockerd?.inspect(container(s), '{{.State.Health.Status}}')) === 'healthy',
      120_000,
      `${s} healthy`,
    );
  }
  assert.equal(await dockerd.inspect(container('api', 2), '{{.State.Health.Status}}'), 'healthy');
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  user = await createTierUser(base, path.join(work, 'deploy/secrets/admin-token'));
  // The stats page wants its password.
  const statsUrl = `http://127.0.0.1:${env.STATS_PORT}/stats`;
  assert.equal((await fetch(statsUrl)).status, 401);
  const statsPassword = (await readFile(path.join(work, 'deploy/secrets/stats-password'), 'utf8')).trim();
  const auth = `Basic ${Buffer.from(`admin:${statsPassword}`).toString('base64')}`;
  assert.equal((await fetch(statsUrl, { headers: { authorization: auth } })).status, 200);
  // Redis refuses a client without its password.
  const ping = await dockerd.docker(['exec', container('redis'), 'redis-cli', 'ping']);
  assert.match(ping.stdout, /NOAUTH/);
  // Non-root users; the worker on the tier's cores and memory, its threads pinned inside them.
  assert.equal(await dockerd.inspect(container('worker'), '{{.Config.User}}'), 'vcfarm');
  assert.equal((await dockerd.docker(['exec', container('api'), 'id', '-u'])).stdout.trim(), '10001');
  assert.equal(await dockerd.inspect(container('worker'), '{{.HostConfig.CpusetCpus}}'), '0-1');
  assert.equal(await dockerd.inspect(container('worker'), '{{.HostConfig.Memory}}'), String(2 * 2 ** 30));
  // The worker has no healthcheck (no HTTP port): its log says when its pool is up.
  await waitUntil(
    async () =>
      (await dockerd?.docker(['logs', container('worker')]))?.stdout.includes('worker process ready') ??
      false,
    120_000,
    'the worker pool to be ready',
  );
  // The container's PID 1 is tini; the worker is its child.
  const tini = await dockerd.inspect(container('worker'), '{{.State.Pid}}');
  const pid = (await readFile(`/proc/${tini}/task/${tini}/children`, 'utf8')).trim().split(/\s+/)[0];
  assert.match(await readFile(`/proc/${pid}/cmdline`, 'utf8'), /cli\.js\0worker/);
  const { stdout } = await execFileAsync('sh', [
    '-c',
    `grep -h Cpus_allowed_list /proc/${pid}/task/*/status`,
  ]);
  const masks = stdout
    .trim()
    .split('\n')
    .map((l) => parseCpuList(l.split(/\s+/).pop() ?? ''));
  for (const m of masks)
    assert.ok(
      m.every((c) => c === 0 || c === 1),
      `a worker thread runs on ${m}`,
    );
  for (const core of [0, 1])
    assert.ok(
      masks.some((m) => m.length === 1 && m[0] === core),
      `a thread pinned to ${core}: ${JSON.stringify(masks)}`,
    );
});

async function submit(file: string): Promise<string> {
  const models = await user.request('GET', '/api/models');
  const voiceId = models.body.models[0].presets[0].id;
  const up = await user.upload(file);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return (await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', voiceId })).id;
}

async function resultDuration(jobId: string, name: string): Promise<number> {
  const result = await user.download(jobId);
  assert.equal(result.status, 200);
  const out = path.join(work, name);
  await writeFile(out, result.bytes);
  return durationOf(out);
}

test('a conversion completes through HAProxy', async () => {
  const input = speechClip(path.join(work, 'six.wav'), 6);
  const id = await submit(input);
  const job = await user.waitForJob(id, 240_000);
  assert.equal(job.state, 'completed', JSON.stringify(job.error));
  assert.ok(Math.abs((await resultDuration(id, 'six-out.wav')) - 6) < 0.1);
});

test('the worker container killed with SIGKILL is restarted and its job completes', async () => {
  assert.ok(dockerd);
  const input = humanSpeech(4);
  const id = await submit(input);
  await user.waitForState(id, 'active', 120_000);
  const restarts = Number(await dockerd.inspect(container('worker'), '{{.RestartCount}}'));
  // The worker process dies as in an OOM kill: SIGKILL to Node, the child of the container's
  // tini, which exits in turn. (`docker kill` would count as a manual stop, which restart
  // policies leave alone.)
  const killed = await dockerd.docker([
    'exec',
    container('worker'),
    'sh',
    '-c',
    'kill -KILL $(cat /proc/1/task/1/children)',
  ]);
  assert.equal(killed.code, 0, killed.stderr);
  await waitUntil(
    async () => Number(await dockerd?.inspect(container('worker'), '{{.RestartCount}}')) > restarts,
    60_000,
    'docker to restart the worker',
  );
  const job = await user.waitForJob(id, 300_000);
  assert.equal(job.state, 'completed', JSON.stringify(job.error));
  assert.ok(Math.abs((await resultDuration(id, 'long-out.wav')) - durationOf(input)) < 0.1);
});

test('`deploy-multiuser.sh docker stop` drains: nothing accepted is lost, the running job finishes', async () => {
  assert.ok(dockerd);
  // About 4 min of speech: still converting when the stop begins, 2 s after the job is seen
  // running (60 s finished before the stop on an idle machine once the source was analysed once,
  // from its first 30 s).
  const id = await submit(humanSpeech(32));
  await user.waitForState(id, 'active', 120_000);
  const small = speechClip(path.join(work, 'small.wav'), 3);
  // 1. Uploads run back to back through HAProxy while the stack stops.
  const uploads = uploadsUntilRefused(user, small, 180_000);
  await new Promise((r) => setTimeout(r, 2000));
  const stopAt = Date.now();
  const stop = await deploy('stop');
  const stoppedAt = Date.now();
  assert.equal(stop.code, 0, stop.stderr);
  const requests = await uploads;
  // 2. Every request that began before the stop succeeded, one of them in flight when it began;
  //    later ones either succeeded or found no listener, and none got an HTTP error.
  assert.deepEqual(
    requests.filter((r) => r.start < stopAt && r.status !== 201),
    [],
  );
  assert.ok(requests.some((r) => r.status === 201 && r.start < stopAt && r.end > stopAt));
  assert.deepEqual(
    requests.filter((r) => r.status !== undefined && r.status !== 201),
    [],
  );
  // 3. Every container stopped by itself (exit 0), none was killed at the grace period's end.
  for (const c of [
    container('haproxy'),
    container('api'),
    container('api', 2),
    container('worker'),
    container('redis'),
  ]) {
    assert.equal(await dockerd.inspect(c, '{{.State.Running}}'), 'false', c);
    assert.equal(await dockerd.inspect(c, '{{.State.ExitCode}}'), '0', c);
  }
  const status = await deploy('status');
  assert.equal(status.code, 0);
  assert.match(status.stdout, new RegExp(`${container('worker')} .*Exit 0`));

  // 4. Up again: the job completed while the worker drained, before the stop returned.
  const again = await deploy(TIER);
  assert.equal(again.code, 0, again.stderr);
  const job = await user.job(id);
  assert.equal(job.state, 'completed');
  assert.ok(
    job.finishedAt !== null && job.finishedAt > stopAt && job.finishedAt < stoppedAt,
    'finished during the drain',
  );
});
