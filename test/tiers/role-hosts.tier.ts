// Hosts apart under systemd: `deploy-multiuser.sh systemd tiny --role api` and `--role worker`
// render two hosts, each installed into its own Debian 12 root and booted with systemd as PID 1
// under systemd-nspawn, each container joined to a network namespace of a lab bridge (standing
// for a machine), with Redis (password) on a third. The workspace is one host directory
// bind-mounted at /var/lib/vcfarm in both (standing for an NFS export). Proves: each host runs
// its role's units only; the worker host's processes serve their metrics on the rendered ports;
// a conversion submitted through the API host's HAProxy is converted on the worker host and its
// result is served by the API host. Run by `npm run test:tiers`.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { waitUntil } from '../helpers/processes.js';
import { tinyWav } from '../helpers/tiny-audio.js';
import { NetnsLab } from './helpers/netns-lab.js';
import { Container } from './helpers/nspawn.js';
import { DEPLOY_SCRIPT, freshSystemdRoot } from './helpers/roots.js';
import { createTierUser } from './helpers/uploads-loop.js';

const execFileAsync = promisify(execFile);
const TIER = 'tiny';
const PASSWORD = 'role-hosts-test-password-0123456789abcdef';
const API_UNITS = ['vcfarm-haproxy.service', 'vcfarm-api@8081.service', 'vcfarm-api@8082.service'];
const WORKER_UNITS = ['vcfarm-worker@0.service', 'vcfarm-worker@1.service'];

const lab = new NetnsLab();
let work: string;
const roots: Record<'api' | 'worker', { work: string; root: string } | undefined> = {
  api: undefined,
  worker: undefined,
};
const boxes: Record<'api' | 'worker', Container | undefined> = { api: undefined, worker: undefined };
let base: string;
const ips = { api: '', worker: '' };
const prometheuses: ChildProcess[] = [];

function box(role: 'api' | 'worker'): Container {
  const b = boxes[role];
  if (!b) throw new Error(`the ${role} host did not boot`);
  return b;
}

/** The units of the container whose names match `pattern`, loaded in any state. */
async function unitsOf(c: Container, pattern: string): Promise<string[]> {
  const out = await c.systemctl('list-units', '--all', '--no-legend', '--plain', pattern);
  return out
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .filter(Boolean);
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

before(async () => {
  work = await mkdtemp('/var/tmp/vcfarm-tier-roles-');
  const shared = path.join(work, 'shared');
  await mkdir(shared, { mode: 0o755 });
  await lab.open();
  const redisIp = await lab.addHost('redis', 10);
  const apiIp = await lab.addHost('apihost', 21);
  ips.api = apiIp;
  ips.worker = await lab.addHost('wkhost', 31);
  base = `http://${apiIp}:80`;

  // 1. Redis on a host of its own, with a password (read from a 0600 config file).
  const passwordFile = path.join(work, 'redis-password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  await mkdir(path.join(work, 'redis'));
  const conf = path.join(work, 'redis.conf');
  await writeFile(
    conf,
    `bind ${redisIp}\nport 6379\nrequirepass ${PASSWORD}\nsave ""\nappendonly no\ndir ${path.join(work, 'redis')}\n`,
    { mode: 0o600 },
  );
  lab.spawn('redis', 'redis-server', [conf]);
  await waitUntil(() => tcpOpen(redisIp, 6379), 20_000, 'Redis to listen');

  // 2. Each role rendered and installed into its own root, as an operator would on each machine.
  for (const role of ['api', 'worker'] as const) {
    roots[role] = await freshSystemdRoot();
    await execFileAsync(
      'bash',
      [
        DEPLOY_SCRIPT,
        'systemd',
        TIER,
        '--root',
        roots[role].root,
        '--role',
        role,
        '--redis-url',
        `redis://${redisIp}:6379`,
      ],
      { env: { ...process.env, REDIS_PASSWORD_FILE: passwordFile }, timeout: 600_000, maxBuffer: 64 << 20 },
    );
  }
  // 3. Both boot, each in its host's namespace, with the shared workspace.
  const bootOne = async (role: 'api' | 'worker', host: string) => {
    const r = roots[role];
    if (!r) throw new Error('not installed');
    boxes[role] = await Container.boot(r.root, path.join(work, `boot-${role}.log`), {
      netns: lab.netns(host),
      binds: [`${shared}:/var/lib/vcfarm`],
      hostname: `vcfarm-${role}-host`,
    });
  };
  await Promise.all([bootOne('api', 'apihost'), bootOne('worker', 'wkhost')]);
});

after(async () => {
  for (const p of prometheuses) {
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    }
  }
  await Promise.all(Object.values(boxes).map((b) => b?.poweroff()));
  await lab.close();
  for (const r of Object.values(roots)) if (r) await rm(r.work, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

test('each host runs its role only: HAProxy and API instances here, workers there, Redis on neither', async () => {
  const api = box('api');
  const worker = box('worker');
  await waitUntil(
    async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200,
    180_000,
    'the API host to answer /health through HAProxy',
  );
  for (const unit of ['vcfarm.target', ...API_UNITS])
    assert.equal(await api.systemctl('is-active', unit), 'active', `api host: ${unit}`);
  assert.deepEqual(await unitsOf(api, 'vcfarm-worker@*'), []);
  assert.deepEqual(await unitsOf(api, 'vcfarm-redis*'), []);
  await waitUntil(
    async () =>
      (await Promise.all(['vcfarm.target', ...WORKER_UNITS].map((u) => worker.show(u, 'ActiveState')))).every(
        (s) => s === 'active',
      ),
    120_000,
    'the worker host to be active',
  );
  assert.deepEqual(await unitsOf(worker, 'vcfarm-api@*'), []);
  assert.deepEqual(await unitsOf(worker, 'vcfarm-haproxy*'), []);
  assert.deepEqual(await unitsOf(worker, 'vcfarm-redis*'), []);
  // The same vcfarm user on both hosts owns the shared workspace (the uid must match across hosts).
  const uids = await Promise.all(
    [api, worker].map(async (c) => (await c.exec(['id', '-u', 'vcfarm'])).stdout.trim()),
  );
  assert.equal(uids[0], uids[1]);
  const owner = (await stat(path.join(work, 'shared'))).uid;
  assert.equal(String(owner), uids[0]);
});

test("the worker host's processes answer on their rendered metrics ports", async () => {
  const worker = box('worker');
  for (const port of [9465, 9466]) {
    const probe = `fetch('http://127.0.0.1:${port}/health/ready').then(async (r) => { const m = await fetch('http://127.0.0.1:${port}/metrics'); console.log(JSON.stringify({ ready: r.status, metrics: await m.text() })); })`;
    let last = '';
    await waitUntil(
      async () => {
        const r = await worker.inNetns(['node', '-e', probe]);
        last = r.stdout + r.stderr;
        return r.code === 0 && JSON.parse(r.stdout).ready === 200;
      },
      120_000,
      `worker metrics on ${port} (${last})`,
    );
    const { metrics } = JSON.parse((await worker.inNetns(['node', '-e', probe])).stdout);
    assert.match(metrics, /^vcfarm_pool_threads\{/m, `port ${port} serves the pool's metrics`);
  }
  // The rendered scrape config names exactly these two ports.
  const prom = await readFile(
    path.join(roots.worker?.root ?? '', 'etc/vcfarm/prometheus/prometheus.yml'),
    'utf8',
  );
  assert.deepEqual(
    [...prom.matchAll(/- (127\.0\.0\.1:\d+)$/gm)].map((m) => m[1]),
    ['127.0.0.1:9465', '127.0.0.1:9466'],
  );
});

test('a conversion submitted through the API host completes on the worker host', async () => {
  const user = await createTierUser(
    base,
    path.join(roots.api?.root ?? '', 'etc/vcfarm/credentials/admin-token'),
  );
  const up = await user.upload(tinyWav(2));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  const done = await user.waitForJob(job.id, 240_000);
  assert.equal(done.state, 'completed', JSON.stringify(done));
  const result = await user.download(job.id);
  assert.equal(result.status, 200);
  assert.ok(result.bytes.length > 44);
  // Converted on the worker host (its journal), and nowhere else could it have been.
  const journals = await Promise.all(
    WORKER_UNITS.map((u) => box('worker').exec(['journalctl', '--no-pager', '-o', 'cat', '-u', u])),
  );
  const lines = journals.flatMap((j) => j.stdout.split('\n')).filter((l) => l.includes(job.id));
  assert.ok(
    lines.some((l) => l.includes('"msg":"conversion completed"')),
    `the worker host logged the job's completion: ${lines.join('\n')}`,
  );
});

/**
 * Debian's Prometheus run in a host's network namespace (its processes are on that host's
 * loopback) with the scrape config the deploy rendered for that host, and the alert rules beside
 * it. Only the admin token's path is pointed into the host's root (Prometheus runs on the test
 * machine's file system). Answers on the host's lab address, port 9090.
 */
async function prometheusFor(role: 'api' | 'worker'): Promise<string> {
  const root = roots[role]?.root ?? '';
  const dir = await mkdtemp(path.join(work, `prom-${role}-`));
  const rendered = await readFile(path.join(root, 'etc/vcfarm/prometheus/prometheus.yml'), 'utf8');
  await writeFile(
    path.join(dir, 'prometheus.yml'),
    rendered.replace(/(credentials_file: )(\S+)/, (_, key, file) => `${key}${path.join(root, file)}`),
  );
  await copyFile(
    path.join(root, 'etc/vcfarm/prometheus/vcfarm-rules.yml'),
    path.join(dir, 'vcfarm-rules.yml'),
  );
  const child = spawn(
    'nsenter',
    [
      '-t',
      String(box(role).leader),
      '-n',
      'prometheus',
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=${ips[role]}:9090`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  prometheuses.push(child);
  return `http://${ips[role]}:9090`;
}

/** The `up` series of a job as Prometheus sees it: instance -> value. */
async function upOf(url: string, job: string): Promise<Record<string, string>> {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: `up{job="${job}"}` })}`).catch(
    () => undefined,
  );
  if (!res?.ok) return {};
  const body = (await res.json()) as {
    data: { result: { metric: { instance: string }; value: [number, string] }[] };
  };
  return Object.fromEntries(body.data.result.map((r) => [r.metric.instance, r.value[1]]));
}

test("a real Prometheus with each host's rendered scrape config finds every process of the host up", async () => {
  const expected = {
    api: { job: 'vcfarm-api', targets: ['127.0.0.1:8081', '127.0.0.1:8082'] },
    worker: { job: 'vcfarm-worker', targets: ['127.0.0.1:9465', '127.0.0.1:9466'] },
  } as const;
  for (const role of ['api', 'worker'] as const) {
    const url = await prometheusFor(role);
    const { job, targets } = expected[role];
    let last: Record<string, string> = {};
    // The rendered scrape interval is 15 s: the first scrape of every target comes within it.
    await waitUntil(
      async () => {
        last = await upOf(url, job);
        return targets.every((t) => last[t] === '1');
      },
      90_000,
      `${role} host: Prometheus to scrape ${targets.join(', ')} (up: ${JSON.stringify(last)})`,
    );
    assert.deepEqual(Object.keys(last).sort(), [...targets]);
  }
});
