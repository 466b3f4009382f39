// WebSocket fan-out across API instances: N clients (default 2,000), each watching one job of
// its own user, on 2 `vcfarm api` processes, through HAProxy and directly. Progress events are
// written to the Redis stream with the workers' own publisher (JobEventLog), each job getting
// one every ~second like a running conversion. Measured: delivery latency from the XADD (the
// stream id's millisecond time, same host clock) to the client's receipt, p50/p99; and the API
// processes' resident memory per connection.
//   node dist/bench/ws-fanout.js [clients=2000] [rounds=10]
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { JobEventLog } from '../src/progress/index.js';
import { type Cluster, startCluster } from '../test/helpers/cluster.js';

const CLIENTS = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 10);

function rssKb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
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

/** Opens one socket per client on the URL it is given; resolves when every snapshot arrived. */
async function connectAll(
  clients: Client[],
  urlFor: (i: number) => string,
  onEvent: (eventId: string) => void,
): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < clients.length; i += 100) {
    await Promise.all(
      clients.slice(i, i + 100).map(
        (c, k) =>
          new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(`${urlFor(i + k).replace(/^http/, 'ws')}/api/ws?token=${c.token}`);
            sockets.push(ws);
            ws.once('error', reject);
            ws.on('message', (data) => {
              const msg = JSON.parse(String(data)) as { type: string; eventId: string };
              if (msg.type === 'snapshot') resolve();
              else if (msg.type === 'progress') onEvent(msg.eventId);
            });
          }),
      ),
    );
  }
  return sockets;
}

async function scenario(
  name: string,
  cluster: Cluster,
  clients: Client[],
  urlFor: (i: number) => string,
  log: JobEventLog,
): Promise<void> {
  const pids = cluster.apis.map((a) => a.process.pid);
  const before = pids.map(rssKb);
  const haproxyBefore = rssKb(cluster.haproxy.process.pid);
  const latencies: number[] = [];
  let measuring = false;
  const sockets = await connectAll(clients, urlFor, (eventId) => {
    if (measuring) latencies.push(Date.now() - Number(eventId.split('-')[0]));
  });
  await new Promise((r) => setTimeout(r, 1000));
  const afterConnect = pids.map(rssKb);
  const haproxyAfter = rssKb(cluster.haproxy.process.pid);

  // Every job gets a progress event per round; a round is spread over one second in 20 slices.
  measuring = true;
  const start = Date.now();
  for (let round = 1; round <= ROUNDS; round++) {
    for (let slice = 0; slice < 20; slice++) {
      const part = clients.filter((_, i) => i % 20 === slice);
      await Promise.all(
        part.map((c) =>
          log.publish(c.userId, {
            type: 'progress',
            jobId: c.jobId,
            progress: round / ROUNDS,
            stage: 'convert',
          }),
        ),
      );
      const due = start + ((round - 1) * 20 + slice + 1) * 50;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
  }
  const expected = clients.length * ROUNDS;
  const deadline = Date.now() + 30_000;
  while (latencies.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  measuring = false;
  for (const ws of sockets) ws.terminate();

  const sorted = [...latencies].sort((a, b) => a - b);
  const perConn = afterConnect.reduce((s, v, i) => s + v - before[i], 0) / clients.length;
  console.log(
    JSON.stringify({
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
    }),
  );
  // Let the servers notice the closed sockets before the next scenario measures again.
  await new Promise((r) => setTimeout(r, 2000));
}

async function main(): Promise<void> {
  const cluster = await startCluster({
    instances: 2,
    env: { LOG_LEVEL: 'warn' },
    // maxconn = 8 × users: room for every client with the fds this machine allows.
    maxUsers: Math.ceil(CLIENTS / 2),
  });
  const redis = new Redis(cluster.redis.url);
  try {
    const log = new JobEventLog(redis, 'vcfarm');
    const clients = await createUsers(cluster.apis[0].url, CLIENTS);
    await scenario('direct (half on each instance)', cluster, clients, (i) => cluster.apis[i % 2].url, log);
    await scenario('through haproxy (leastconn)', cluster, clients, () => cluster.haproxy.url, log);
  } finally {
    redis.disconnect();
    await cluster.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
