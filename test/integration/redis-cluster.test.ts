import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { type CliProcess, spawnCli } from '../helpers/cluster.js';
import { durationOf, espeakSentence } from '../helpers/fixtures.js';
import { idempotentPost } from '../helpers/idempotency.js';
import { writePlans } from '../helpers/plans.js';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/processes.js';
import { startRedis } from '../helpers/redis.js';
import { CLUSTER_PREFIX, type RedisClusterSet, startRedisCluster } from '../helpers/redis-cluster.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

// vcfarm api and vcfarm worker, as in production, on a real three-primary Redis Cluster (each
// primary with a replica) with a password; every key under the {vcfarm} hash tag.
let cluster: RedisClusterSet;
let dataDir: string;
let env: Record<string, string>;
let receiver: WebhookReceiver;
let hook: string;
const spawned: CliProcess[] = [];

const SESSIONS_PER_WINDOW = 4;
const MAX_QUEUED = 2;

before(async () => {
  receiver = new WebhookReceiver();
  hook = await receiver.listen();
  cluster = await startRedisCluster({ replicas: 1 });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-redis-cluster-data-'));
  env = {
    DATA_DIR: dataDir,
    REDIS_CLUSTER_NODES: cluster.nodes,
    REDIS_PASSWORD_FILE: cluster.passwordFile,
    REDIS_PREFIX: CLUSTER_PREFIX,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ADMIN_TOKEN,
    POOL_SIZE: '1',
    SCALE_WAIT_MS: '20000',
    // A job whose worker lost its lock in the failover comes back soon, not after 30 s.
    JOB_LOCK_MS: '5000',
    STALLED_INTERVAL_MS: '5000',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    PLANS_FILE: writePlans(dataDir, undefined, (p) => {
      p.sessionRateLimit = { max: SESSIONS_PER_WINDOW, windowSec: 600 };
      p.plans.free.quotas.maxQueuedJobs = MAX_QUEUED;
    }),
  };
});
after(async () => {
  for (const p of spawned) await p.kill();
  await cluster?.stop();
  await receiver?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function startApi(over: Record<string, string> = {}): Promise<{ base: string; api: CliProcess }> {
  const port = await freePort();
  const api = spawnCli('api', { ...env, ...over, PORT: String(port) });
  spawned.push(api);
  await api.waitForLog('api listening', 60_000);
  return { base: `http://127.0.0.1:${port}`, api };
}

function startWorker(id: string, over: Record<string, string> = {}): CliProcess {
  const worker = spawnCli('worker', { ...env, ...over, WORKER_ID: id });
  spawned.push(worker);
  return worker;
}

/** Every key on every primary, with the port of the node holding it. */
async function allKeys(): Promise<{ key: string; port: number }[]> {
  const out: { key: string; port: number }[] = [];
  for (const s of cluster.servers) {
    if (s.process.exitCode !== null || s.process.signalCode !== null) continue;
    const r = cluster.connect(s.port);
    try {
      await r.connect();
      if (!/role:master/.test(await r.info('replication'))) continue;
      for (const key of await r.keys('*')) out.push({ key, port: s.port });
    } finally {
      r.disconnect();
    }
  }
  return out;
}

test('Redis Cluster: sessions, rate limits, admission, queue places, idempotency, accounts, conversion over WebSocket, scale', async () => {
  // 1. The API alone first: jobs wait, so the admission script's refusal is deterministic.
  const { base, api } = await startApi();
  const client = await ApiClient.anonymous(base);
  const events = await client.openEvents();

  // 2. Sessions are counted per client IP in Redis: the window's allowance, then 429.
  const statuses: number[] = [];
  for (let i = 1; i < SESSIONS_PER_WINDOW + 1; i++)
    statuses.push((await fetch(`${base}/api/session`, { method: 'POST' })).status);
  assert.deepEqual(statuses, [...Array(SESSIONS_PER_WINDOW - 1).fill(201), 429]);
  const limited = await fetch(`${base}/api/session`, { method: 'POST' });
  assert.equal(limited.status, 429);
  assert.equal(((await limited.json()) as { error: string }).error, 'VC_ERR_RATE_LIMITED');

  // 3. The user's webhook (its secret and default target are keys of their own).
  assert.equal((await client.request('POST', '/api/webhook/secret')).status, 201);
  const hooked = await client.request('PUT', '/api/webhook', {
    url: `${hook}/cluster`,
    events: ['completed'],
  });
  assert.equal(hooked.status, 200, JSON.stringify(hooked.body));

  // 4. Admission (the fair-share script) admits MAX_QUEUED jobs, then refuses; the idempotent
  //    create replays the same job instead of admitting another.
  const source = espeakSentence('en-us+f3', 'A sentence converted on a Redis Cluster.');
  const up = await client.upload(source);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const uploadId = up.body.upload.id as string;
  const body = { uploadId, outputFormat: 'wav', pitchSemitones: 3 };
  const first = await idempotentPost(client, base, '/api/jobs', body, 'cluster-key-1');
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const again = await idempotentPost(client, base, '/api/jobs', body, 'cluster-key-1');
  assert.equal(again.status, 202);
  assert.equal(again.replayed, true);
  assert.equal(again.body.job.id, first.body.job.id);
  const second = await client.createJob(body);
  const refused = await client.request('POST', '/api/jobs', body);
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.equal(refused.body.error, 'VC_ERR_TOO_MANY_JOBS');
  const jobs = [first.body.job.id as string, second.id];

  // 5. Queue places (one pipeline over BullMQ's wait list and prioritized set).
  const places = await client.request('GET', '/api/queue');
  assert.equal(places.status, 200, JSON.stringify(places.body));
  assert.deepEqual(
    places.body.jobs.map((j: { jobId: string; position: number }) => [j.jobId, j.position]),
    jobs.map((id, i) => [id, i + 1]),
  );

  // 6. Accounts: create (MULTI over four keys), list (MGET), rotate the key.
  const created = await adminRequest(base, 'POST', '/api/admin/users', { name: 'ada', plan: 'pro' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const listed = await adminRequest(base, 'GET', '/api/admin/users');
  assert.ok(listed.body.users.some((u: { id: string }) => u.id === created.body.user.id));
  const ada = new ApiClient(base, { token: created.body.apiKey, userId: created.body.user.id });
  assert.equal((await ada.request('GET', '/api/workspace')).status, 200);
  const rotated = await adminRequest(base, 'POST', `/api/admin/users/${created.body.user.id}/keys`);
  assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
  assert.equal((await ada.request('GET', '/api/workspace')).status, 401);
  const adaNow = new ApiClient(base, { token: rotated.body.apiKey, userId: created.body.user.id });
  assert.equal((await adaNow.request('GET', '/api/workspace')).status, 200);

  // 7. A worker starts: both jobs complete, reported over the WebSocket (the progress stream).
  const worker = startWorker('cluster-worker-1');
  await worker.waitForLog('worker process ready', 60_000);
  for (const id of jobs) await events.waitFor((m) => m.type === 'completed' && m.jobId === id, 120_000);
  const result = await client.download(jobs[0]);
  assert.equal(result.status, 200);
  const out = path.join(dataDir, 'result.wav');
  await writeFile(out, result.bytes);
  assert.ok(Math.abs(durationOf(out) - durationOf(source)) < 0.2, 'the result lasts as long as the input');
  events.close();
  // ... and delivered to the webhook (the publisher's script feeds the dispatcher's stream, in the slot).
  await receiver.waitFor(() => jobs.every((id) => receiver.at('/cluster').some((d) => d.body.job.id === id)));

  // 8. A scale request is applied (200) by the live worker: scale keys, heartbeats, pub/sub.
  const scaled = await adminRequest(base, 'POST', '/api/system/scale', { new_worker_count: 2 });
  assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
  assert.deepEqual(
    scaled.body.workers.map((w: { id: string; size: number; applied: boolean }) => [w.id, w.size, w.applied]),
    [['cluster-worker-1', 2, true]],
  );

  // 9. The queue-depth gauges (read by one instance under a lease) count both jobs.
  const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^vcfarm_queue_jobs\{state="completed"\} 2$/m);

  // 10. Every key vcfarm and BullMQ wrote is under the hash tag, so all of them live on one primary.
  const keys = await allKeys();
  assert.ok(keys.length > 20, `keys written: ${keys.length}`);
  assert.deepEqual(
    keys.filter((k) => !k.key.startsWith(`${CLUSTER_PREFIX}:`)).map((k) => k.key),
    [],
  );
  assert.equal(new Set(keys.map((k) => k.port)).size, 1);

  // 11. Nothing went wrong on the way: no error logged by the API or the worker, nor a warning of one
  //    (a Redis connection, queue, worker or webhook error).
  const complaints = spawned.flatMap((p) =>
    p.logs.filter(
      (l) => (l.level as number) >= 50 || ((l.level as number) >= 40 && /error/.test(String(l.msg))),
    ),
  );
  assert.deepEqual(complaints, []);

  // 12. Both stop on SIGTERM within their deadlines (exit 0; past a deadline it is 1).
  worker.process.kill('SIGTERM');
  assert.deepEqual(await worker.exited, { code: 0, signal: null });
  assert.ok(worker.logs.some((l) => l.msg === 'worker process stopped'));
  api.process.kill('SIGTERM');
  assert.deepEqual(await api.exited, { code: 0, signal: null });
});

test('a misconfigured cluster stops api and worker at start-up with a message naming the fix', async () => {
  // (Every configuration refusal is in test/unit/config.test.ts; one goes through the CLI here.)
  const plain = await startRedis();
  const wrongPassword = path.join(dataDir, 'wrong-password');
  await writeFile(wrongPassword, 'not-the-password\n', { mode: 0o600 });
  const nodePort = cluster.servers[0].port;
  const cases: [string, 'api' | 'worker', Record<string, string>, number, RegExp][] = [
    [
      'a prefix without a hash tag',
      'api',
      { REDIS_PREFIX: 'vcfarm' },
      78,
      /REDIS_PREFIX="vcfarm": on a Redis Cluster \(REDIS_CLUSTER_NODES\) the prefix must be a hash tag such as \{vcfarm\}/,
    ],
    [
      'a cluster node as REDIS_URL',
      'api',
      { REDIS_CLUSTER_NODES: '', REDIS_URL: `redis://127.0.0.1:${nodePort}`, REDIS_PREFIX: 'vcfarm' },
      1,
      /Redis at 127\.0\.0\.1:\d+ \(REDIS_URL\) is a node of a Redis Cluster; set REDIS_CLUSTER_NODES to its nodes instead/,
    ],
    [
      'a single Redis as the cluster',
      'api',
      { REDIS_CLUSTER_NODES: `127.0.0.1:${plain.port}`, REDIS_PASSWORD_FILE: '' },
      1,
      /Redis at 127\.0\.0\.1:\d+ \(REDIS_CLUSTER_NODES\) is not a cluster node \(cluster support is off\)/,
    ],
    [
      'a wrong password',
      'worker',
      { REDIS_PASSWORD_FILE: wrongPassword },
      1,
      /Redis Cluster node 127\.0\.0\.1:\d+ \(REDIS_CLUSTER_NODES\) refused the password \(WRONGPASS\); check REDIS_PASSWORD_FILE/,
    ],
  ];
  try {
    for (const [what, command, extra, code, message] of cases) {
      const run = spawnCli(command, { ...env, PORT: '0', ...extra });
      // One that starts anyway would run until killed: the assertion below then names it.
      const timer = setTimeout(() => void run.kill(), 20_000);
      const exited = await run.exited;
      clearTimeout(timer);
      assert.equal(exited.code, code, `${command} with ${what}: ${run.stderr()}`);
      assert.match(run.stderr(), message, `${command} with ${what}`);
      assert.ok(
        !run.stderr().includes(cluster.password),
        `${command} with ${what}: the password is in its output`,
      );
    }
  } finally {
    await plain.stop();
  }
});

test('Redis Cluster failover: the primary holding {vcfarm} killed during a batch; every job completes once, the API answers 503 at worst', async () => {
  const { base } = await startApi();
  const worker = startWorker('cluster-worker-failover');
  await worker.waitForLog('worker process ready', 60_000);
  // An account of its own (the first test spent this IP's anonymous sessions).
  const made = await adminRequest(base, 'POST', '/api/admin/users', { name: 'failover', plan: 'pro' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const client = new ApiClient(base, { token: made.body.apiKey, userId: made.body.user.id });
  const events = await client.openEvents();
  const source = espeakSentence(
    'en-us+m3',
    'A longer sentence for the batch that runs while a cluster primary dies.',
  );
  // 1. A batch in one burst: one job runs while the others wait.
  const up = await client.upload(source);
  assert.equal(up.status, 201);
  const jobs: string[] = [];
  for (let i = 0; i < 4; i++)
    jobs.push(
      (await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: i + 1 }))
        .id,
    );

  const probes: { at: number; status: number; error?: string }[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const res = await client.request('GET', '/api/workspace').catch(() => ({ status: 0, body: undefined }));
      probes.push({ at: Date.now(), status: res.status, error: res.body?.error });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  // 2. Kill the primary of the tag's slot once the first job is under way.
  await events.waitFor(
    (m) => (m.type === 'progress' || m.type === 'stage') && jobs.includes(m.jobId as string),
    60_000,
  );
  const primary = await cluster.primaryFor(CLUSTER_PREFIX);
  const replica = await cluster.replicaOf(primary);
  assert.ok(replica, 'the primary has a replica');
  const survivor = cluster.servers.find((s) => s.port !== primary && s.port !== replica) as { port: number };
  const killedAt = Date.now();
  cluster.servers.find((s) => s.port === primary)?.process.kill('SIGKILL');
  await waitUntil(
    async () => (await cluster.primaryFor(CLUSTER_PREFIX, survivor.port).catch(() => 0)) === replica,
    30_000,
    'the replica to take over',
  );
  const failedOverAt = Date.now();

  // 3. Every job completes, reported on the same WebSocket, once each.
  for (const id of jobs) await events.waitFor((m) => m.type === 'completed' && m.jobId === id, 120_000);
  await waitUntil(
    () => probes.length >= 5 && probes.slice(-5).every((p) => p.status === 200),
    15_000,
    'the API to answer again',
  );
  probing = false;
  await prober;
  events.close();
  for (const id of jobs) {
    assert.equal(
      events.messages.filter((m) => m.type === 'completed' && m.jobId === id).length,
      1,
      `job ${id}`,
    );
    assert.equal((await client.job(id)).state, 'completed');
  }
  // The kill came during the batch: a job finished only after it.
  assert.ok(events.messages.some((m) => m.type === 'completed' && m.at > killedAt));
  const bad = probes.filter((p) => p.status !== 200);
  console.log(
    `cluster failover: replica promoted ${failedOverAt - killedAt} ms after the kill; ` +
      `${bad.length} of ${probes.length} probes not 200 (${[...new Set(bad.map((p) => `${p.status} ${p.error}`))].join(', ')}), ` +
      `last ${bad.length ? bad[bad.length - 1].at - killedAt : 0} ms after the kill`,
  );
  assert.deepEqual(
    bad.filter((p) => p.status !== 503),
    [],
  );
});

test('Redis Cluster over TLS with a password: api and worker trust REDIS_TLS_CA_FILE; a job completes', async () => {
  const tls = await startRedisCluster({ tls: true });
  try {
    const over = {
      REDIS_CLUSTER_NODES: tls.nodes,
      REDIS_PASSWORD_FILE: tls.passwordFile,
      REDIS_TLS_CA_FILE: tls.caFile as string,
      DATA_DIR: path.join(dataDir, 'tls'),
    };
    const { base } = await startApi(over);
    const worker = startWorker('cluster-worker-tls', over);
    await worker.waitForLog('worker process ready', 60_000);
    const client = await ApiClient.anonymous(base);
    const events = await client.openEvents();
    const up = await client.upload(espeakSentence('en-us+f3', 'A sentence converted on a TLS cluster.'));
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const job = await client.createJob({
      uploadId: up.body.upload.id,
      outputFormat: 'mp3',
      pitchSemitones: -2,
    });
    await events.waitFor((m) => m.type === 'completed' && m.jobId === job.id, 120_000);
    events.close();
    assert.equal((await client.download(job.id)).status, 200);
    // The nodes listen on TLS only: nothing reached them in the clear.
    for (const s of tls.servers) {
      const r = tls.connect(s.port);
      try {
        await r.connect();
        assert.deepEqual(await r.config('GET', 'port'), ['port', '0']);
      } finally {
        r.disconnect();
      }
    }
  } finally {
    for (const p of spawned.splice(0)) await p.kill();
    await tls.stop();
  }
});
