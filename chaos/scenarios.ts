import { execFileSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { adminRequest } from '../test/helpers/admin.js';
import { type AllProcess, health, startAll } from '../test/helpers/all-process.js';
import { ApiClient } from '../test/helpers/client.js';
import { startCluster } from '../test/helpers/cluster.js';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { LiveEvents } from '../test/helpers/live-events.js';
import { freePort } from '../test/helpers/ports.js';
import { waitUntil } from '../test/helpers/processes.js';
import { count, newOutcome, type Outcome, settle } from './tally.js';

/** Short locks so that a job whose worker died is taken again within seconds. */
const FAST_RECOVERY = { JOB_LOCK_MS: '3000', STALLED_INTERVAL_MS: '1000', DRAIN_MS: '1000', POOL_SIZE: '2' };

async function ready(all: AllProcess, timeoutMs = 30_000): Promise<void> {
  let last = '';
  await waitUntil(
    async () => {
      const h = await health(all.baseUrl);
      last = `${h.status} ${JSON.stringify(h.body)}`;
      return h.status === 200;
    },
    timeoutMs,
    '/health 200',
  ).catch((err) => {
    const errors = all.logs.filter((l) => Number(l.level) >= 50).slice(-3);
    throw new Error(
      `${(err as Error).message} (last: ${last}; exit: ${all.child.exitCode}; errors: ${JSON.stringify(errors).slice(0, 600)})`,
    );
  });
}

async function recoveredAfter(all: AllProcess, since: number): Promise<number> {
  await ready(all, 60_000);
  return Date.now() - since;
}

/** A user with one uploaded clip. */
async function userWithUpload(
  o: Outcome,
  baseUrl: string,
  seconds = 2,
): Promise<{ client: ApiClient; uploadId: string }> {
  const client = await ApiClient.anonymous(baseUrl);
  const up = await client.upload(humanSpeech(seconds));
  if (!count(o, up.status, [201])) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
  return { client, uploadId: up.body.upload.id };
}

async function submit(
  o: Outcome,
  client: ApiClient,
  uploadId: string,
  n: number,
  refusals: number[] = [],
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await client
      .request('POST', '/api/jobs', { uploadId, outputFormat: i % 2 ? 'mp3' : 'wav', pitchSemitones: i % 3 })
      .catch(() => ({ status: 0, body: {} }) as { status: number; body: { job?: { id: string } } });
    if (count(o, res.status, [202], refusals)) ids.push(res.body.job.id);
  }
  return ids;
}

async function whenActive(client: ApiClient, ids: string[], n: number): Promise<void> {
  await waitUntil(
    async () => {
      const res = await client.request('GET', '/api/jobs');
      return (
        res.status === 200 &&
        res.body.jobs.filter((j: { id: string; state: string }) => ids.includes(j.id) && j.state !== 'queued')
          .length >= n
      );
    },
    60_000,
    `${n} jobs started`,
  );
}

export type Scenario = { name: string; run: () => Promise<Outcome> };

/** GET loops through HAProxy until stopped, counting requests and failures (network errors, 5xx). */
function requestStream(o: Outcome, client: ApiClient, concurrency = 2) {
  let running = true;
  let sent = 0;
  const loop = async () => {
    while (running) {
      sent++;
      const res = await client.request('GET', '/api/jobs').catch(() => ({ status: 0 }));
      count(o, res.status, [200]);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** A scenario on one `vcfarm all`: what differs between scenarios is data and one `act` step. */
interface AllScenario {
  name: string;
  /** Environment beyond FAST_RECOVERY. */
  env?: Record<string, string>;
  /** Prepares a DATA_DIR (a small volume) before the start; `undo` runs after the cleanup. */
  volume?: () => Promise<{ dataDir: string; undo: () => Promise<void> }>;
  /** Wait for /health 200 before `act` (default); false for scenarios about the start itself. */
  waitReady?: boolean;
  act: (o: Outcome, all: AllProcess) => Promise<void>;
}

/** The one runner of every `vcfarm all` scenario: start, act, always clean up. */
function onAll(s: AllScenario): Scenario {
  return {
    name: s.name,
    async run() {
      const o = newOutcome(s.name);
      const volume = await s.volume?.();
      let all: AllProcess | undefined;
      try {
        all = await startAll(
          { ...FAST_RECOVERY, ...s.env },
          volume ? { dataDir: volume.dataDir, port: await freePort() } : undefined,
        );
        if (s.waitReady !== false) await ready(all);
        await s.act(o, all);
      } finally {
        await all?.cleanup(volume !== undefined);
        await volume?.undo();
      }
      return o;
    },
  };
}

/**
 * A batch of 10 jobs; `fault` strikes while 2 run and resolves once the faulty part is back
 * (a new process); then /health 200 ends the recovery and every job must complete once.
 */
function faultMidBatch(name: string, fault: (all: AllProcess) => Promise<void>): Scenario {
  return onAll({
    name,
    async act(o, all) {
      const { client, uploadId } = await userWithUpload(o, all.baseUrl);
      const ids = await submit(o, client, uploadId, 10);
      await whenActive(client, ids, 2);
      const at = Date.now();
      await fault(all);
      o.recoveryMs = await recoveredAfter(all, at);
      await settle(o, client, ids, all);
    },
  });
}

/** Admin scale requests, each counted (200 applied or 202 stored); returns the answers. */
async function scaleTo(o: Outcome, all: AllProcess, sizes: number[], pauseMs: number) {
  const token = await all.adminToken();
  const answers = [];
  for (const size of sizes) {
    const res = await adminRequest(
      all.baseUrl,
      'POST',
      '/api/system/scale',
      { new_worker_count: size },
      token,
    );
    count(o, res.status, [200, 202]);
    answers.push(res);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  return answers;
}

async function haproxyDrainAndKill(): Promise<Outcome> {
  const o = newOutcome('API instance drain and kill -9 behind HAProxy, WebSocket watcher');
  const cluster = await startCluster({
    instances: 2,
    env: { DRAIN_MS: '1000', WS_PING_INTERVAL_MS: '1000', POOL_SIZE: '2' },
  });
  let watcher: LiveEvents | undefined;
  try {
    const { client, uploadId } = await userWithUpload(o, cluster.haproxy.url);
    watcher = new LiveEvents({ baseUrl: cluster.haproxy.url, token: client.session?.token ?? '' });
    const stream = requestStream(o, client);
    const ids = await submit(o, client, uploadId, 8);
    // 1. Drain api1 (SIGTERM), bring it back; then kill api2 outright, bring it back.
    const drainedAt = Date.now();
    cluster.apis[0].process.kill('SIGTERM');
    await cluster.apis[0].exited;
    await cluster.restartApi(0);
    await cluster.haproxy.waitForStatus('api1', 'UP', 20_000);
    o.recoveryMs = Date.now() - drainedAt;
    await cluster.apis[1].kill();
    await cluster.restartApi(1);
    await cluster.haproxy.waitForStatus('api2', 'UP', 20_000);
    await settle(o, client, ids, cluster.worker);
    await stream.stop();
    // 2. The watcher, reconnected through HAProxy, saw each job's final event exactly once.
    const w = watcher;
    await waitUntil(
      () => ids.every((id) => w.jobs.get(id)?.state === 'completed'),
      20_000,
      'the watcher',
    ).catch(() => {});
    for (const id of ids) {
      const n = w.messages.filter((m) => m.type === 'completed' && m.jobId === id).length;
      if (n !== 1) o.problems.push(`job ${id}: ${n} completed events at the watcher`);
    }
    process.stderr.write(
      `chaos:   ${stream.sent} requests through HAProxy, ${w.connections.length} WebSocket connections\n`,
    );
  } finally {
    watcher?.close();
    await cluster.close();
  }
  return o;
}

async function sigtermAndRestart(): Promise<Outcome> {
  const o = newOutcome('SIGTERM of vcfarm all mid-batch, then restart');
  const first = await startAll(FAST_RECOVERY);
  let second: AllProcess | undefined;
  try {
    await ready(first);
    const { client, uploadId } = await userWithUpload(o, first.baseUrl);
    const ids = await submit(o, client, uploadId, 10);
    await whenActive(client, ids, 2);
    const stoppedAt = Date.now();
    first.child.kill('SIGTERM');
    const code = await Promise.race([first.exited, new Promise((r) => setTimeout(() => r('hung'), 90_000))]);
    if (code !== 0) o.problems.push(`SIGTERM: exit ${String(code)}`);
    second = await startAll(FAST_RECOVERY, { dataDir: first.dataDir, port: first.port });
    o.recoveryMs = await recoveredAfter(second, stoppedAt);
    await settle(o, client, ids, [first, second]);
  } finally {
    await second?.cleanup(true);
    await first.cleanup();
  }
  return o;
}

/** DATA_DIR on a tmpfs of `size` (needs root), removed after the scenario. */
async function tmpfsVolume(size: string) {
  const dataDir = path.join(os.tmpdir(), `vcfarm-chaos-tmpfs-${process.pid}`);
  await mkdir(dataDir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dataDir]);
  return {
    dataDir,
    async undo() {
      execFileSync('umount', ['-l', dataDir]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const scenarios: Scenario[] = [
  { name: 'API instance drain and kill -9 behind HAProxy, WebSocket watcher', run: haproxyDrainAndKill },
  faultMidBatch('worker kill -9 mid-batch', async (all) => {
    process.kill(all.workerPids()[0], 'SIGKILL');
    await waitUntil(() => all.workerPids().length === 2, 60_000, 'the restarted worker');
  }),
  faultMidBatch('Redis kill -9 mid-batch, restarted', async (all) => {
    // Back: a new redis-server on the same port, with the same AOF.
    const old = await all.redisPid();
    process.kill(old, 'SIGKILL');
    await waitUntil(async () => (await all.redisPid().catch(() => old)) !== old, 30_000, 'a new redis');
  }),
  { name: 'SIGTERM of vcfarm all mid-batch, then restart', run: sigtermAndRestart },
  onAll({
    name: 'resizes during a batch',
    async act(o, all) {
      const { client, uploadId } = await userWithUpload(o, all.baseUrl);
      const ids = await submit(o, client, uploadId, 12);
      await scaleTo(o, all, [1, 3, 2, 1, 2], 1500);
      await settle(o, client, ids, all);
    },
  }),
  onAll({
    name: 'scale requests racing start-up',
    env: { POOL_SIZE: '1' },
    // The banner is printed once the API listens, while the worker is still starting.
    waitReady: false,
    async act(o, all) {
      const sizes = [3, 2, 3];
      for (const res of await scaleTo(o, all, sizes, 0))
        if (res.status === 200 && res.body.workers.length === 0)
          o.problems.push('200 "applied" with no worker');
      const last = sizes[sizes.length - 1];
      const startedAt = Date.now();
      const token = await all.adminToken();
      await waitUntil(
        async () => {
          const s = await adminRequest(all.baseUrl, 'GET', '/api/system/stats', undefined, token);
          return s.status === 200 && s.body.workers.length === 1 && s.body.workers[0].size === last;
        },
        20_000,
        `the worker at size ${last}`,
      ).catch(() => o.problems.push(`the worker did not reach size ${last}`));
      o.recoveryMs = Date.now() - startedAt;
      const { client, uploadId } = await userWithUpload(o, all.baseUrl);
      await settle(o, client, await submit(o, client, uploadId, 3), all);
    },
  }),
  onAll({
    name: 'unwritable outputs (one user)',
    async act(o, all) {
      const a = await userWithUpload(o, all.baseUrl);
      const b = await userWithUpload(o, all.baseUrl);
      const locked = path.join(all.dataDir, 'workspaces', a.client.session?.userId ?? '', 'outputs');
      await mkdir(locked, { recursive: true });
      execFileSync('chattr', ['+i', locked]);
      try {
        const aIds = await submit(o, a.client, a.uploadId, 4);
        const bIds = await submit(o, b.client, b.uploadId, 4);
        await settle(o, a.client, aIds, all, 120_000, 4);
        const other = newOutcome('other');
        await settle(other, b.client, bIds, all);
        o.submitted += other.submitted;
        o.completed += other.completed;
        o.failed += other.failed;
        o.lost += other.lost;
        o.problems.push(...other.problems);
        for (const id of aIds) {
          const j = (await a.client.request('GET', `/api/jobs/${id}`)).body.job;
          if (j.attempts !== 1 || /\//.test(j.error?.message ?? '/'))
            o.problems.push(`job ${id}: ${JSON.stringify(j.error)} after ${j.attempts} attempt(s)`);
        }
      } finally {
        execFileSync('chattr', ['-i', locked]);
      }
    },
  }),
  onAll({
    name: 'DATA_DIR on a 96 MB tmpfs that fills up',
    env: { MIN_FREE_DISK_BYTES: String(32 * 2 ** 20) },
    volume: () => tmpfsVolume('96m'),
    async act(o, all) {
      const { client, uploadId } = await userWithUpload(o, all.baseUrl);
      const ids = await submit(o, client, uploadId, 4);
      // 1. Something else fills the volume to the brim: Redis's AOF and new outputs meet ENOSPC.
      const filler = path.join(all.dataDir, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=200'], { stdio: 'ignore' });
      } catch {
        // dd stops at "No space left on device": that is the point
      }
      // 2. New writes are refused with 507 (or 503 while Redis cannot persist), never a crash or a hang.
      const refused = await client.upload(humanSpeech(1)).catch(() => ({ status: 0, body: {} }));
      count(o, refused.status, [], [507, 503]);
      // Health names the cause: Redis refusing writes (503), or the data volume low on space.
      const h = await health(all.baseUrl);
      if (h.body.disk !== 'low' && h.body.redis !== 'refusing-writes')
        o.problems.push(`/health did not name the full disk: ${h.status} ${JSON.stringify(h.body)}`);
      // 3. Space is freed: the service recovers by itself and the jobs end.
      const freedAt = Date.now();
      await rm(filler, { force: true });
      o.recoveryMs = await recoveredAfter(all, freedAt);
      // A job whose output met the full disk may fail (with "No space left on device"); none may be lost.
      await settle(o, client, ids, all, 180_000, 'any');
    },
  }),
];
