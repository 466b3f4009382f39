// The webhook dispatcher's cost per event: one `vcfarm api` process (no WebSocket connected, no
// worker: the only work an event gives it is the progress hub's read and the dispatcher's) gets
// EVENTS_PER_SEC progress events for SECONDS, spread over USERS users, published with the build's
// own publisher (JobEventLog), first with no user having a webhook, then with WEBHOOK_USERS of them
// having a default webhook for `progress` and `completed` (a queued job each, so deliveries are
// made: one per 2 s per job, POSTed to a receiver in this process). Measured from the first event
// until the dispatchers have caught up (no entry unread or pending in their consumer group) and
// the delivery queue is empty: the API's and Redis's CPU (utime + stime from /proc) per event,
// the deliveries received, and the dispatcher's lag when the last event was published. With
// BENCH_BASELINE_DIST (bench/baseline-dist.sh <commit>) the same scenarios run on that build
// first, and the ratios this / baseline are printed.
//   [BENCH_BASELINE_DIST=dir] node dist/bench/webhook-dispatch.js [eventsPerSec=10000] [seconds=10] [webhookUsers=100] [users=10000]

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { JobEventLog } from '../src/progress/index.js';
import { ApiClient } from '../test/helpers/client.js';
import { writePlans } from '../test/helpers/plans.js';
import { freePort } from '../test/helpers/ports.js';
import { type StartedProcess, startProcess } from '../test/helpers/processes.js';
import { startRedis, type TestRedis } from '../test/helpers/redis.js';
import { tinyWav } from '../test/helpers/tiny-audio.js';
import { WebhookReceiver } from '../test/helpers/webhook-receiver.js';

const EVENTS_PER_SEC = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 10);
const WEBHOOK_USERS = Number(process.argv[4] ?? 100);
const USERS = Number(process.argv[5] ?? 10_000);
const CLK_TCK = 100;
const PREFIX = 'vcfarm';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuMs(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Entries the `webhooks` group has not read or not acknowledged, on whichever stream it reads. */
async function dispatcherBacklog(redis: Redis): Promise<number> {
  // The feed's entries are deleted once handled: what it holds is the backlog (Redis cannot
  // always compute a group's lag over deleted entries). Before the feed the group read the events.
  let backlog = await redis.xlen(`${PREFIX}:webhook:events`);
  for (const key of [`${PREFIX}:events`]) {
    if (!(await redis.exists(key))) continue;
    const groups = (await redis.xinfo('GROUPS', key)) as (string | number)[][];
    const g = groups.find((f) => f[f.indexOf('name') + 1] === 'webhooks');
    if (!g) continue;
    const field = (name: string) => Number(g[g.indexOf(name) + 1]);
    backlog += field('lag') + field('pending');
  }
  return backlog;
}

/** Deliveries waiting or running in the BullMQ webhook queue. */
async function deliveriesQueued(redis: Redis): Promise<number> {
  const q = `${PREFIX}:webhooks`;
  const [wait, active, delayed, prioritized] = await Promise.all([
    redis.llen(`${q}:wait`),
    redis.llen(`${q}:active`),
    redis.zcard(`${q}:delayed`),
    redis.zcard(`${q}:prioritized`),
  ]);
  return wait + active + delayed + prioritized;
}

interface Setup {
  redis: TestRedis;
  api: StartedProcess;
  url: string;
  dataDir: string;
}

async function start(cli: string): Promise<Setup> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-webhook-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const api = await startProcess(process.execPath, [cli, 'api'], {
    name: 'api',
    env: {
      DATA_DIR: dataDir,
      PLANS_FILE: writePlans(dataDir),
      REDIS_URL: redis.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      WEBHOOK_ALLOW_PRIVATE: 'true',
    },
    graceMs: 15_000,
    ready: () =>
      fetch(`${url}/health`).then(
        (r) => r.status === 200,
        () => false,
      ),
  });
  return { redis, api, url, dataDir };
}

/** Users with a signing secret, a default webhook and one queued job, or without any of it. */
async function webhookUsers(
  url: string,
  hook: string,
  n: number,
): Promise<{ userId: string; jobId: string }[]> {
  const out: { userId: string; jobId: string }[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, async () => {
        const client = await ApiClient.anonymous(url);
        await client.request('POST', '/api/webhook/secret');
        const set = await client.request('PUT', '/api/webhook', {
          url: `${hook}/bench`,
          events: ['progress', 'completed'],
        });
        if (set.status !== 200) throw new Error(`PUT /api/webhook: ${set.status}`);
        const uploadId = (await client.upload(tinyWav(1))).body.upload.id;
        const job = await client.createJob({ uploadId, outputFormat: 'wav' });
        return { userId: client.session?.userId ?? '', jobId: job.id };
      }),
    );
    out.push(...batch);
  }
  return out;
}

interface Result {
  scenario: string;
  events: number;
  apiCpuUsPerEvent: number;
  redisCpuUsPerEvent: number;
}

async function scenario(
  name: string,
  s: Setup,
  log: JobEventLog,
  redis: Redis,
  receiver: WebhookReceiver,
  hooked: { userId: string; jobId: string }[],
): Promise<Result> {
  const users = [
    ...hooked,
    ...Array.from({ length: USERS - hooked.length }, (_, i) => ({ userId: `plain-${i}`, jobId: `job-${i}` })),
  ];
  const received0 = receiver.received.length;
  const apiCpu0 = cpuMs(s.api.process.pid);
  const redisCpu0 = cpuMs(s.redis.process.pid);
  const t0 = performance.now();
  const perSlice = Math.ceil(EVENTS_PER_SEC / 20);
  let next = 0;
  for (let slice = 0; slice < SECONDS * 20; slice++) {
    const part = Array.from({ length: perSlice }, () => users[next++ % users.length]);
    await Promise.all(
      part.map((u) =>
        log.publish(u.userId, {
          type: 'progress',
          jobId: u.jobId,
          progress: slice / (SECONDS * 20),
          stage: 'convert',
        }),
      ),
    );
    await pause(Math.max(0, t0 + (slice + 1) * 50 - performance.now()));
  }
  const publishedIn = (performance.now() - t0) / 1000;
  const lagAtEnd = await dispatcherBacklog(redis);
  const deadline = Date.now() + 120_000;
  while (
    Date.now() < deadline &&
    ((await dispatcherBacklog(redis)) > 0 || (await deliveriesQueued(redis)) > 0)
  )
    await pause(50);
  const seconds = (performance.now() - t0) / 1000;
  const events = perSlice * SECONDS * 20;
  const r = {
    scenario: name,
    events,
    publishedInSec: Number(publishedIn.toFixed(1)),
    caughtUpAfterSec: Number(seconds.toFixed(1)),
    dispatcherBacklogAtLastEvent: lagAtEnd,
    backlogLeft: await dispatcherBacklog(redis),
    deliveries: receiver.received.length - received0,
    apiCores: Number(((cpuMs(s.api.process.pid) - apiCpu0) / 1000 / seconds).toFixed(2)),
    apiCpuUsPerEvent: Number((((cpuMs(s.api.process.pid) - apiCpu0) * 1000) / events).toFixed(1)),
    redisCpuUsPerEvent: Number((((cpuMs(s.redis.process.pid) - redisCpu0) * 1000) / events).toFixed(1)),
    loadavg: loadavg(),
  };
  console.log(JSON.stringify(r));
  return r;
}

async function runBuild(build: string, dist: string): Promise<Result[]> {
  const s = await start(path.join(dist, 'src/cli.js'));
  const receiver = new WebhookReceiver();
  const redis = new Redis(s.redis.url);
  try {
    const hook = await receiver.listen();
    const { JobEventLog: Log } = (await import(path.join(dist, 'src/progress/index.js'))) as {
      JobEventLog: typeof JobEventLog;
    };
    const log = new Log(redis, PREFIX);
    console.log(JSON.stringify({ build, eventsPerSec: EVENTS_PER_SEC, seconds: SECONDS, users: USERS }));
    // A warm-up (JIT, connections), not compared.
    await scenario('warm-up, not compared', s, log, redis, receiver, []);
    const none = await scenario('0 webhook users', s, log, redis, receiver, []);
    const hooked = await webhookUsers(s.url, hook, WEBHOOK_USERS);
    const some = await scenario(`${WEBHOOK_USERS} webhook users`, s, log, redis, receiver, hooked);
    return [none, some];
  } finally {
    redis.disconnect();
    await receiver.close();
    await s.api.stop();
    await s.redis.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const baselineDist = process.env.BENCH_BASELINE_DIST;
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const base = baselineDist
    ? await runBuild(`baseline ${baselineDist}`, path.resolve(baselineDist))
    : undefined;
  const now = await runBuild('this tree', here);
  if (!base) return;
  const ratio = (x: number, y: number) => Number((x / Math.max(1e-9, y)).toFixed(2));
  for (const [i, r] of now.entries())
    console.log(
      JSON.stringify({
        scenario: r.scenario,
        'ratio this / baseline': {
          apiCpuPerEvent: ratio(r.apiCpuUsPerEvent, base[i].apiCpuUsPerEvent),
          redisCpuPerEvent: ratio(r.redisCpuUsPerEvent, base[i].redisCpuUsPerEvent),
        },
      }),
    );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
