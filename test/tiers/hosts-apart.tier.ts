// Hosts apart: Redis, two API hosts, two worker hosts and HAProxy, each in its own network
// namespace (standing for a machine) on one bridge, the test reaching them from its own
// namespace. The workspace is one directory bind-mounted at a different path on every API and
// worker host, standing for an NFS export (vcfarm's layout needs only atomic renames within one
// directory: no inotify, no local locks, no absolute paths stored; see README "Hosts apart").
// Proves: jobs submitted through HAProxy complete on both worker hosts and both API hosts serve;
// a worker host cut off the network mid-job (its port on the bridge down) loses no job: another
// worker host completes it once its lock has expired. Run by `npm run test:tiers` (root, ~1 min).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { haproxySizing, NR_OPEN, wsMaxSocketsFor } from '../../src/deploy/index.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence, humanSpeech } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { type LabProcess, NetnsLab } from './helpers/netns-lab.js';
import { REPO } from './helpers/roots.js';
import { TIER_TEST_USER } from './helpers/uploads-loop.js';

const CLI = path.join(REPO, 'dist/src/cli.js');
const PASSWORD = 'hosts-apart-test-password-0123456789';
const ADMIN_TOKEN = 'hosts-apart-test-admin-token-0123456789abcdef';
const API_HOSTS = ['api1', 'api2'];
/** The users the lab's HAProxy is sized for, with the shipped tiers' sockets per user. */
const LAB_USERS = 10;
const WS_PER_USER = 4;
const HTTP_PER_USER = 4;

/** The descriptors a process started from here may open (HAProxy and Node raise to it). */
function hardNofileLimit(): number {
  const hard = execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim();
  return hard === 'unlimited' ? NR_OPEN : Number(hard);
}
const WORKER_HOSTS = ['wk1', 'wk2'];

const lab = new NetnsLab();
let work: string;
const mounts: string[] = [];
const workers = new Map<string, LabProcess>();
let base: string;
let apiKey: string;
/** The tier tests' pro user (its limits leave room for polling; they are not under test here). */
const user = (): ApiClient => new ApiClient(base, { token: apiKey, userId: '' });

/** jobIds each worker host logged as converted ('conversion completed'). */
function convertedBy(host: string): string[] {
  return (workers.get(host)?.logs ?? [])
    .filter((l) => l.msg === 'conversion completed')
    .map((l) => String(l.jobId));
}

function startedBy(host: string): string[] {
  return (workers.get(host)?.logs ?? [])
    .filter((l) => l.msg === 'conversion started')
    .map((l) => String(l.jobId));
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-hosts-apart-'));
  const shared = path.join(work, 'shared');
  await mkdir(shared);
  await lab.open();
  const redisIp = await lab.addHost('redis', 10);
  const lbIp = await lab.addHost('lb', 2);
  for (const [i, h] of API_HOSTS.entries()) await lab.addHost(h, 21 + i);
  for (const [i, h] of WORKER_HOSTS.entries()) await lab.addHost(h, 31 + i);

  // 1. Redis on its own host, password from a file (never on a command line).
  const passwordFile = path.join(work, 'redis-password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const redisConf = path.join(work, 'redis.conf');
  await mkdir(path.join(work, 'redis'));
  await writeFile(
    redisConf,
    `bind ${redisIp}\nport 6379\nrequirepass ${PASSWORD}\nsave ""\nappendonly no\ndir ${path.join(work, 'redis')}\n`,
    { mode: 0o600 },
  );
  lab.spawn('redis', 'redis-server', [redisConf]);

  // 2. The shared workspace: one directory, mounted at a different path on each host.
  const env = (host: string): Record<string, string> => {
    const dataDir = path.join(work, 'hosts', host, 'data');
    return {
      REDIS_URL: `redis://${redisIp}:6379`,
      REDIS_PASSWORD_FILE: passwordFile,
      DATA_DIR: dataDir,
      MODELS_DIR: path.join(REPO, 'models'),
      LOG_LEVEL: 'info',
    };
  };
  for (const h of [...API_HOSTS, ...WORKER_HOSTS]) {
    const dataDir = env(h).DATA_DIR;
    await mkdir(dataDir, { recursive: true });
    execFileSync('mount', ['--bind', shared, dataDir]);
    mounts.push(dataDir);
  }

  // 3. Two API hosts, two worker hosts (one thread each; short locks so a lost host's job
  //    returns to the queue within seconds).
  //    Each API host's WS_MAX_SOCKETS is what its descriptor limit leaves (as every tier sets it).
  const wsMaxSockets = wsMaxSocketsFor(
    hardNofileLimit(),
    Math.ceil((LAB_USERS * HTTP_PER_USER) / API_HOSTS.length),
  );
  for (const h of API_HOSTS)
    lab.spawn(h, process.execPath, [CLI, 'api'], {
      ...env(h),
      HOST: lab.ip(h),
      PORT: '8080',
      ADMIN_TOKEN,
      WS_MAX_SOCKETS: String(wsMaxSockets),
    });
  for (const h of WORKER_HOSTS) {
    const p = lab.spawn(h, process.execPath, [CLI, 'worker'], {
      ...env(h),
      WORKER_ID: h,
      POOL_SIZE: '1',
      JOB_LOCK_MS: '4000',
      STALLED_INTERVAL_MS: '2000',
    });
    workers.set(h, p);
  }

  // 4. HAProxy on its own host, round robin over the API hosts, naming the one that answered,
  //    its limits sized as the deploy tiers size them (src/deploy) for the descriptors it has.
  const sizing = haproxySizing({
    connections: LAB_USERS * (WS_PER_USER + HTTP_PER_USER),
    httpConnections: LAB_USERS * HTTP_PER_USER,
    servers: API_HOSTS.length,
    nofileLimit: hardNofileLimit(),
  });
  const cfg = path.join(work, 'haproxy.cfg');
  await writeFile(
    cfg,
    [
      'global',
      `  maxconn ${sizing.maxconn}`,
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend fe',
      `  maxconn ${sizing.frontendMaxconn}`,
      `  bind ${lbIp}:80`,
      '  default_backend api',
      'backend api',
      '  balance roundrobin',
      '  option httpchk GET /health',
      '  http-response set-header x-served-by %s',
      ...API_HOSTS.map(
        (h) => `  server ${h} ${lab.ip(h)}:8080 check inter 1s fall 2 rise 1 maxconn ${sizing.serverMaxconn}`,
      ),
      '',
    ].join('\n'),
  );
  lab.spawn('lb', 'haproxy', ['-db', '-f', cfg]);
  base = `http://${lbIp}:80`;

  const describe = () =>
    [...workers.values()].map((p) => `${p.host}: ${p.text.slice(-5).join(' | ')}`).join('\n');
  await waitUntil(
    () => [...workers.values()].every((w) => w.logs.some((l) => l.msg === 'worker process ready')),
    120_000,
    'both worker hosts to be ready',
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n${describe()}`);
  });
  // Both API hosts up behind HAProxy: two /health answers in a row, one from each.
  await waitUntil(
    async () => {
      const served = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${base}/health`).catch(() => undefined);
        if (res?.status !== 200) return false;
        served.add(res.headers.get('x-served-by') ?? '');
      }
      return served.size === API_HOSTS.length;
    },
    120_000,
    'HAProxy to reach both API hosts',
  );
  const res = await fetch(`${base}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(TIER_TEST_USER),
  });
  const body = (await res.json()) as { apiKey: string };
  assert.equal(res.status, 201, JSON.stringify(body));
  apiKey = body.apiKey;
});

after(async () => {
  await lab.close();
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // not mounted (a failed start): nothing to undo
    }
  }
  if (work) await rm(work, { recursive: true, force: true });
});

test('jobs through HAProxy complete on both worker hosts; both API hosts serve them and their results', async () => {
  const client = user();
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const up = await client.upload(
      espeakSentence('en-us+m3', `Sentence number ${i} for the hosts apart test.`),
    );
    assert.equal(up.status, 201, JSON.stringify(up.body));
    ids.push((await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' })).id);
  }
  for (const id of ids) {
    const job = await client.waitForJob(id, 120_000);
    assert.equal(job.state, 'completed', `job ${id}: ${JSON.stringify(job.error)}`);
  }
  // Each result, written by a worker host, read twice in a row: round robin sends the two
  // requests to the two API hosts, and both find it on their own mount of the workspace.
  const servedBy = new Set<string>();
  for (const id of ids) {
    for (let i = 0; i < 2; i++) {
      const res = await client.download(id);
      assert.equal(res.status, 200);
      assert.equal(res.bytes.subarray(0, 4).toString(), 'RIFF');
      servedBy.add(res.headers.get('x-served-by') ?? '');
    }
  }
  assert.deepEqual([...servedBy].sort(), API_HOSTS, 'results served by both API hosts');
  for (const h of WORKER_HOSTS)
    assert.ok(
      ids.some((id) => convertedBy(h).includes(id)),
      `worker host ${h} converted none of ${ids.length} jobs`,
    );
});

test('a worker host cut off the network mid-job: its job completes on the other worker host', async () => {
  const client = user();
  const models = await client.request('GET', '/api/models');
  const voiceId: string | undefined = models.body.models?.[0]?.presets?.[0]?.id;
  assert.ok(voiceId, 'a preset voice');
  // ~3 min: still converting when the host is cut off (23 s could finish first on an idle machine
  // once the source was analysed once, from its first 30 s).
  const clip = humanSpeech(24);
  // 1. Two voice conversions, one per worker host (one thread each).
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const up = await client.upload(clip);
    assert.equal(up.status, 201);
    ids.push((await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', voiceId })).id);
  }
  // 2. Once a worker host runs one of them, cut that host off (the job still running there).
  let victim = '';
  let jobId = '';
  await waitUntil(
    () => {
      for (const h of WORKER_HOSTS) {
        const running = ids.find((id) => startedBy(h).includes(id) && !convertedBy(h).includes(id));
        if (running) {
          victim = h;
          jobId = running;
          return true;
        }
      }
      return false;
    },
    60_000,
    'a worker host to start one of the jobs',
  );
  await lab.setLink(victim, false);
  const cutAt = Date.now();
  const survivor = WORKER_HOSTS.find((h) => h !== victim) ?? '';

  // 3. Every job completes, the cut one on the other host; the results download.
  for (const id of ids) {
    const job = await client.waitForJob(id, 180_000);
    assert.equal(job.state, 'completed', `job ${id}: ${JSON.stringify(job.error)}`);
    assert.equal((await client.download(id)).status, 200);
  }
  const recoveredMs = Date.now() - cutAt;
  assert.ok(convertedBy(survivor).includes(jobId), `${survivor} converted the job ${victim} was running`);
  console.log(
    `hosts apart: ${victim} cut off mid-job; its job completed on ${survivor} ${recoveredMs} ms later (lock 4 s, stalled check every 2 s)`,
  );
});
