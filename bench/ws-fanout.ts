// WebSocket fan-out across API instances: N clients (default 10,000), each watching one job of
// its own user, on 2 `vcfarm api` processes, directly and through HAProxy (as many as the
// descriptors HAProxy can have allow: src/deploy haproxySizing). Progress events are written to
// the Redis stream with the workers' own publisher (JobEventLog), each job getting one every
// ~second like a running conversion. Measured: every event delivered, latency from the XADD (the
// stream id's millisecond time, same host clock) to the client's receipt, p50/p99; the API
// processes' resident memory per connection; and the cost of one event on an instance with 1,000
// and with 10,000 idle sockets of other users connected (events/s and CPU time per event). The
// fan-out clients are split over BENCH_CLIENT_PROCESSES (4) forked processes (bench/lib), at
// niceness BENCH_CLIENT_NICE (0); the CPU each group of processes used while the events flowed
// (API instances, clients, Redis, HAProxy, this publisher) is printed in cores, with the same
// processes' CPU in a quiet window before the events, the API's kernel share, Redis's own work
// (INFO commandstats: XADDs, XREADs, entries per XREAD), and the wait until the webhook
// dispatchers' consumer group has caught up (their work is part of an event's cost). With
// BENCH_BASELINE_DIST (another build's dist/: bench/baseline-dist.sh <commit> makes one) every
// scenario runs on that build first, then on this tree, and the CPU per event of the two is
// compared. With BENCH_PROFILE_DIR the vcfarm processes of this tree run under V8's profiler
// (bench/lib/profiled-cli.ts).
//   [BENCH_EVENTS_PER_SEC=clients] [BENCH_CLIENT_NICE=10] [BENCH_BASELINE_DIST=dir] node dist/bench/ws-fanout.js [clients=10000] [seconds=10] [events=20000] [cost|fanout]
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type WebSocket from 'ws';
import { maxConnectionsFor } from '../src/deploy/index.js';
import { JobEventLog } from '../src/progress/index.js';
import { type Cluster, startCluster } from '../test/helpers/cluster.js';
import { connectMany } from './lib/ws-client.js';
import type { ClientCommand, ClientReply } from './lib/ws-client-process.js';

const CLIENTS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 10);
const COST_EVENTS = Number(process.argv[4] ?? 20_000);
/** `cost`: only the event-cost scenario (1,000 vs CLIENTS idle sockets); `fanout`: only the fan-out. */
const ONLY = process.argv[5];
/** Progress events per second in the fan-out, over all clients; default one per client. */
const EVENTS_PER_SEC = Number(process.env.BENCH_EVENTS_PER_SEC ?? CLIENTS);
/** Processes the fan-out's clients are split over (each holds CLIENTS / this many sockets). */
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? 4);
/**
 * Niceness of the client processes (BENCH_CLIENT_NICE, default 0): with 10 the kernel gives the
 * servers the CPU first, so what the clients cost shows apart from what the servers cost.
 */
const CLIENT_NICE = Number(process.env.BENCH_CLIENT_NICE ?? 0);
/** The window before the events in which the fan-out measures the CPU the connected processes use anyway. */
const IDLE_WINDOW_MS = 3000;
/** Users whose events the idle-socket scenario publishes. */
const ACTIVE = 100;
const CLK_TCK = 100;

function rssKb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** User + system CPU time of a process so far, in ms (`kernel`: the system part only). */
function cpuMs(pid: number | undefined, kernel = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (((kernel ? 0 : Number(fields[11])) + Number(fields[12])) * 1000) / CLK_TCK;
}

/**
 * CPU used by groups of processes over a window, in cores (CPU seconds per second): which of the
 * servers, Redis, HAProxy, the bench's clients and its publisher spent this machine's two cores.
 */
class CpuShares {
  private readonly t0 = performance.now();
  private readonly start: Record<string, number>;
  constructor(
    private readonly groups: { api: (number | undefined)[] } & Record<string, (number | undefined)[]>,
  ) {
    this.start = this.sample();
  }
  private sample(): Record<string, number> {
    const all = Object.entries(this.groups).map(([g, pids]) => [
      g,
      pids.reduce((n: number, pid) => n + cpuMs(pid), 0),
    ]);
    // The API's kernel time apart: the system calls and the loopback TCP work of each send.
    const kernel = ['apiKernel', this.groups.api.reduce((n: number, pid) => n + cpuMs(pid, true), 0)];
    return Object.fromEntries([...all, kernel]);
  }
  read(): Record<string, number> & { seconds: number } {
    const seconds = (performance.now() - this.t0) / 1000;
    const now = this.sample();
    const out: Record<string, number> = {};
    for (const g of Object.keys(now)) out[g] = Number(((now[g] - this.start[g]) / 1000 / seconds).toFixed(2));
    return { ...out, seconds: Number(seconds.toFixed(1)) };
  }
}

/** Calls and Redis's own µs per command, from INFO commandstats: `{xadd: {calls, usec}, ...}`. */
async function commandStats(redis: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const info = await redis.info('commandstats');
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm))
    out[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  return out;
}

/**
 * What Redis did for the events between two readings: XADDs and XREADs (calls, and Redis's own
 * µs per call), and how many stream entries an XREAD returned on average (every one of `readers`
 * instances reads every entry).
 */
function redisWork(
  before: Record<string, { calls: number; usec: number }>,
  after: Record<string, { calls: number; usec: number }>,
  readers: number,
): Record<string, number> {
  const d = (c: string) => ({
    calls: (after[c]?.calls ?? 0) - (before[c]?.calls ?? 0),
    usec: (after[c]?.usec ?? 0) - (before[c]?.usec ?? 0),
  });
  const xadd = d('xadd');
  const xread = d('xread');
  return {
    xadds: xadd.calls,
    xaddUs: Number((xadd.usec / Math.max(1, xadd.calls)).toFixed(1)),
    xreads: xread.calls,
    xreadUs: Number((xread.usec / Math.max(1, xread.calls)).toFixed(1)),
    entriesPerXread: Number(((xadd.calls * readers) / Math.max(1, xread.calls)).toFixed(1)),
  };
}

/**
 * Resolves once the webhook dispatchers' consumer group has read and acknowledged every entry,
 * or after 30 s: their work is part of what an event costs, and a dispatcher that lags would
 * otherwise spend it after the measurement. The group reads the event stream itself in builds
 * before the webhook feed, the feed (`vcfarm:webhook:events`) since: whichever holds it.
 */
async function webhooksCaughtUp(redis: Redis): Promise<{ caughtUp: boolean; lag: number; pending: number }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = { lag: 0, pending: 0 };
    // The feed's entries are deleted once handled: what it holds is the backlog (Redis cannot
    // always compute a group's lag over deleted entries).
    state.lag += await redis.xlen('vcfarm:webhook:events');
    for (const key of ['vcfarm:events']) {
      if (!(await redis.exists(key))) continue;
      const groups = (await redis.xinfo('GROUPS', key)) as (string | number)[][];
      const g = groups.find((f) => f[f.indexOf('name') + 1] === 'webhooks');
      if (!g) continue;
      state.lag += Number(g[g.indexOf('lag') + 1]);
      state.pending += Number(g[g.indexOf('pending') + 1]);
    }
    if (state.lag === 0 && state.pending === 0) return { caughtUp: true, ...state };
    if (Date.now() > deadline) return { caughtUp: false, ...state };
    await pause(50);
  }
}

function hardNofile(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /Max open files\s+\d+\s+(\d+|unlimited)/.exec(limits);
  return !m || m[1] === 'unlimited' ? 1_048_576 : Number(m[1]);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FanoutResult {
  scenario: string;
  p99Ms: number;
  apiCpuUsPerEvent: number;
  cpuCoresDuringEvents: Record<string, number> & { seconds: number };
  delivered: number;
}

interface Client {
  userId: string;
  token: string;
  jobId: string;
}

async function createUsers(base: string, n: number): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        const res = await fetch(`${base}/api/session`, { method: 'POST' });
        if (res.status !== 201) throw new Error(`session: ${res.status}`);
        return (await res.json()) as { token: string; userId: string };
      }),
    );
    for (const s of batch) out.push({ ...s, jobId: `bench-${s.userId}` });
  }
  return out;
}

/** Upgrades answered 503 (an instance shedding load, HAProxy without a live server) and retried. */
let retried503 = 0;

/** Opens one socket per client on the URL it is given; resolves when every snapshot arrived. */
function connectAll(
  clients: Client[],
  urlFor: (i: number) => string,
  onEvent: (eventId: string) => void,
): Promise<WebSocket[]> {
  return connectMany(
    clients.map((c, i) => wsUrl(urlFor(i), c)),
    onEvent,
    () => retried503++,
  );
}

const wsUrl = (base: string, c: Client) => `${base.replace(/^http/, 'ws')}/api/ws?token=${c.token}`;

/** The fan-out's clients, split over CLIENT_PROCESSES forked processes. */
class ClientProcesses {
  private constructor(private readonly children: ChildProcess[]) {}

  static start(n: number): ClientProcesses {
    const file = fileURLToPath(new URL('./lib/ws-client-process.js', import.meta.url));
    const children = Array.from({ length: n }, () => fork(file, [], { stdio: 'inherit' }));
    if (CLIENT_NICE) for (const c of children) os.setPriority(c.pid ?? 0, CLIENT_NICE);
    return new ClientProcesses(children);
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid ?? 0);
  }

  /** Sends one command to every process (each its own, from `each`) and gathers the replies. */
  call(each: (k: number) => ClientCommand): Promise<ClientReply[]> {
    return Promise.all(
      this.children.map(
        (child, k) =>
          new Promise<ClientReply>((resolve, reject) => {
            const command = each(k);
            child.once('message', (r: ClientReply) =>
              r.error ? reject(new Error(`client process: ${r.error}`)) : resolve(r),
            );
            child.send(command);
          }),
      ),
    );
  }

  get size(): number {
    return this.children.length;
  }
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  for (const ws of sockets) ws.terminate();
  // Let the servers notice the closed sockets before the next scenario measures again.
  await pause(2000);
}

const progress = (c: Client, fraction: number) => ({
  type: 'progress' as const,
  jobId: c.jobId,
  progress: fraction,
  stage: 'convert',
});

async function fanout(
  name: string,
  cluster: Cluster,
  clients: Client[],
  urlFor: (i: number) => string,
  log: JobEventLog,
  redis: Redis,
): Promise<FanoutResult> {
  const pids = cluster.apis.map((a) => a.process.pid);
  const before = pids.map(rssKb);
  const haproxyBefore = rssKb(cluster.haproxy.process.pid);
  const procs = ClientProcesses.start(CLIENT_PROCESSES);
  const urls = clients.map((c, i) => wsUrl(urlFor(i), c));
  const share = (k: number) => urls.filter((_, i) => i % procs.size === k);
  const connected = await procs.call((k) => ({ cmd: 'connect', urls: share(k) }));
  await pause(1000);
  const afterConnect = pids.map(rssKb);
  const haproxyAfter = rssKb(cluster.haproxy.process.pid);

  const groups = {
    api: pids,
    clients: procs.pids,
    redis: [cluster.redis.process.pid],
    ...(name.includes('haproxy') ? { haproxy: [cluster.haproxy.process.pid] } : {}),
    publisher: [process.pid],
  };
  // What the same processes spend with every socket connected and no event flowing (timers,
  // polling, the heartbeat): the part of the CPU below that no event causes.
  const quiet = new CpuShares(groups);
  await pause(IDLE_WINDOW_MS);
  const idleCores = quiet.read();

  // Every job gets a progress event per round; a round is spread over one second in 20 slices.
  await procs.call(() => ({ cmd: 'measure', on: true }));
  const cpu = new CpuShares(groups);
  const stats0 = await commandStats(redis);
  const start = Date.now();
  // With BENCH_EVENTS_PER_SEC below the client count, the jobs take turns (a few running
  // conversions among many connected users); every client still counts as connected.
  const perSlice = Math.ceil(EVENTS_PER_SEC / 20);
  let next = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (let slice = 0; slice < 20; slice++) {
      const part = Array.from({ length: perSlice }, () => clients[next++ % clients.length]);
      await Promise.all(part.map((c) => log.publish(c.userId, progress(c, round / ROUNDS))));
      const due = start + ((round - 1) * 20 + slice + 1) * 50;
      await pause(Math.max(0, due - Date.now()));
    }
  }
  const expected = perSlice * 20 * ROUNDS;
  const deadline = Date.now() + 30_000;
  const received = async () =>
    (await procs.call(() => ({ cmd: 'count' }))).reduce((n, r) => n + (r.count ?? 0), 0);
  while ((await received()) < expected && Date.now() < deadline) await pause(200);
  const webhooksDone = await webhooksCaughtUp(redis);
  const cpuCores = cpu.read();
  const stats1 = await commandStats(redis);
  await procs.call(() => ({ cmd: 'measure', on: false }));
  const latencies = (await procs.call(() => ({ cmd: 'report' }))).flatMap((r) => r.latencies ?? []);
  await procs.call(() => ({ cmd: 'close' }));
  // Let the servers notice the closed sockets before the next scenario measures again.
  await pause(2000);

  const sorted = [...latencies].sort((a, b) => a - b);
  const perConn = afterConnect.reduce((s, v, i) => s + v - before[i], 0) / clients.length;
  const result = {
    scenario: name,
    clients: clients.length,
    delivered: latencies.length,
    expected,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1],
    apiRssKbPerConnection: Number(perConn.toFixed(1)),
    haproxyRssKbPerConnection: name.includes('haproxy')
      ? Number(((haproxyAfter - haproxyBefore) / clients.length).toFixed(1))
      : undefined,
    clientProcesses: procs.size,
    retried503: connected.reduce((n, r) => n + (r.retried ?? 0), 0),
    clientNice: CLIENT_NICE,
    cpuCoresDuringEvents: cpuCores,
    apiCpuUsPerEvent: Math.round((cpuCores.api * cpuCores.seconds * 1e6) / Math.max(1, latencies.length)),
    cpuCoresWithoutEvents: idleCores,
    redis: redisWork(stats0, stats1, cluster.apis.length),
    webhookDispatchers: webhooksDone,
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  console.log(JSON.stringify(result));
  return result;
}

/**
 * COST_EVENTS progress events for ACTIVE users with a socket on api1, published in bursts of
 * 500 as fast as they are delivered, while `idle.length` sockets of other users sit on api1 too.
 */
async function eventCost(
  cluster: Cluster,
  active: Client[],
  idleCount: number,
  log: JobEventLog,
  redis: Redis,
  label = '',
): Promise<{ eventsPerSec: number; apiCpuUsPerEvent: number }> {
  const api1 = cluster.apis[0];
  let received = 0;
  const sockets = await connectAll(
    active,
    () => api1.url,
    () => received++,
  );
  await pause(500);
  const cpu0 = cpuMs(api1.process.pid);
  const t0 = performance.now();
  for (let sent = 0; sent < COST_EVENTS; ) {
    const burst = Math.min(500, COST_EVENTS - sent);
    await Promise.all(
      Array.from({ length: burst }, (_, k) => {
        const c = active[(sent + k) % active.length];
        return log.publish(c.userId, progress(c, ((sent + k) % 100) / 100));
      }),
    );
    sent += burst;
    // At most two bursts in flight: the measure is delivery, not Redis's queue.
    while (received < sent - 500) await pause(1);
  }
  while (received < COST_EVENTS) await pause(1);
  const seconds = (performance.now() - t0) / 1000;
  await webhooksCaughtUp(redis);
  const cpu = cpuMs(api1.process.pid) - cpu0;
  for (const ws of sockets) ws.terminate();
  await pause(1000);
  const r = {
    eventsPerSec: Math.round(COST_EVENTS / seconds),
    apiCpuUsPerEvent: Math.round((cpu * 1000) / COST_EVENTS),
  };
  console.log(
    JSON.stringify({
      scenario: `${label}event cost on api1 with ${idleCount} idle sockets of other users`,
      events: COST_EVENTS,
      ...r,
      loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    }),
  );
  return r;
}

async function fanoutScenarios(
  cluster: Cluster,
  users: Client[],
  log: JobEventLog,
  redis: Redis,
  throughHaproxy: number,
): Promise<FanoutResult[]> {
  const direct = await fanout(
    'direct (half on each instance)',
    cluster,
    users,
    (i) => cluster.apis[i % 2].url,
    log,
    redis,
  );
  const proxied = await fanout(
    'through haproxy (leastconn)',
    cluster,
    users.slice(0, throughHaproxy),
    () => cluster.haproxy.url,
    log,
    redis,
  );
  return [direct, proxied];
}

/** Every scenario on one build (`cli`: its dist/src/cli.js; this tree's when undefined). */
async function runBuild(build: string, cli: string | undefined): Promise<FanoutResult[]> {
  const nofile = hardNofile();
  // HAProxy holds 2 descriptors per client: as many as its limit allows, sized by the deploy
  // script's own function (one socket per user, no HTTP in flight during the measurement).
  const throughHaproxy = Math.min(CLIENTS, maxConnectionsFor(nofile, 2));
  const cluster = await startCluster({
    // BENCH_PROFILE_DIR: every vcfarm process of the run writes CPU profiles there.
    ...(process.env.BENCH_PROFILE_DIR && !cli
      ? { cli: fileURLToPath(new URL('./lib/profiled-cli.js', import.meta.url)) }
      : cli
        ? { cli }
        : {}),
    instances: 2,
    env: { LOG_LEVEL: 'warn', WS_MAX_SOCKETS: String(CLIENTS + ACTIVE) },
    maxUsers: throughHaproxy,
    // Health checks as the deploy script's defaults: two cores busy connecting thousands of
    // sockets make a 200 ms check interval take instances out of rotation.
    haproxyEnv: { WS_MAX_SOCKETS_PER_USER: '1', HTTP_PER_USER: '0', CHECK_INTER: '1s', CHECK_FALL: '3' },
  });
  const redis = new Redis(cluster.redis.url);
  try {
    // The build's own publisher: what it writes per event is part of that build's cost.
    const Log = cli
      ? (
          (await import(path.resolve(path.dirname(cli), '../src/progress/index.js'))) as {
            JobEventLog: typeof JobEventLog;
          }
        ).JobEventLog
      : JobEventLog;
    const log = new Log(redis, 'vcfarm');
    const clients = await createUsers(cluster.apis[0].url, CLIENTS + ACTIVE);
    const users = clients.slice(0, CLIENTS);
    const active = clients.slice(CLIENTS);
    console.log(
      JSON.stringify({
        build,
        clients: CLIENTS,
        throughHaproxy,
        nofile,
        seconds: ROUNDS,
        eventsPerSec: EVENTS_PER_SEC,
      }),
    );
    const results = ONLY === 'cost' ? [] : await fanoutScenarios(cluster, users, log, redis, throughHaproxy);
    if (ONLY === 'fanout') return results;
    // The cost of one event must not grow with other users' sockets on the same instance.
    const idleSmall = Math.min(1000, CLIENTS);
    let idle = await connectAll(
      users.slice(0, idleSmall),
      () => cluster.apis[0].url,
      () => {},
    );
    await eventCost(cluster, active, idleSmall, log, redis, 'warm-up, not compared: ');
    const small = await eventCost(cluster, active, idleSmall, log, redis);
    idle = idle.concat(
      await connectAll(
        users.slice(idleSmall),
        () => cluster.apis[0].url,
        () => {},
      ),
    );
    const large = await eventCost(cluster, active, CLIENTS, log, redis);
    await closeAll(idle);
    console.log(
      JSON.stringify({
        eventsPerSecRatio: Number((large.eventsPerSec / small.eventsPerSec).toFixed(2)),
        cpuPerEventRatio: Number((large.apiCpuUsPerEvent / small.apiCpuUsPerEvent).toFixed(2)),
      }),
    );
    return results;
  } finally {
    redis.disconnect();
    await cluster.close();
  }
}

/**
 * With BENCH_BASELINE_DIST (another build's dist/, e.g. the previous commit's), the same scenarios
 * run on it first, then on this tree, and the CPU of the two is compared in the same run.
 */
async function main(): Promise<void> {
  const baselineDist = process.env.BENCH_BASELINE_DIST;
  const base = baselineDist
    ? await runBuild(`baseline ${baselineDist}`, path.resolve(baselineDist, 'src/cli.js'))
    : undefined;
  const now = await runBuild('this tree', undefined);
  if (!base) return;
  for (const [i, r] of now.entries()) {
    const b = base[i];
    const ratio = (x: number, y: number) => Number((x / Math.max(1e-9, y)).toFixed(2));
    const perEvent = (c: Record<string, number>, key: string, delivered: number) =>
      ((c[key] ?? 0) * c.seconds * 1e6) / Math.max(1, delivered);
    console.log(
      JSON.stringify({
        scenario: r.scenario,
        'ratio this / baseline': {
          apiCpuPerEvent: ratio(r.apiCpuUsPerEvent, b.apiCpuUsPerEvent),
          redisCpuPerEvent: ratio(
            perEvent(r.cpuCoresDuringEvents, 'redis', r.delivered),
            perEvent(b.cpuCoresDuringEvents, 'redis', b.delivered),
          ),
          haproxyCpuPerEvent: r.cpuCoresDuringEvents.haproxy
            ? ratio(
                perEvent(r.cpuCoresDuringEvents, 'haproxy', r.delivered),
                perEvent(b.cpuCoresDuringEvents, 'haproxy', b.delivered),
              )
            : undefined,
          p99: ratio(r.p99Ms, b.p99Ms),
        },
      }),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
