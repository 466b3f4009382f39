// What one live WebSocket costs an API instance in memory (issue 17: goal <= 10 KB per
// connection). The API runs in this process (test/helpers/service.ts, no worker) so its heap can be
// collected before each reading; the clients are in a forked process (bench/lib). Baseline in the
// same run: a bare `ws` server (no Fastify, no session) holding as many sockets, so the figure
// splits into what any WebSocket costs in Node and what vcfarm adds to it.
//   node dist/bench/ws-memory.js [sockets=2000] [objects]
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WebSocketServer } from 'ws';
import { startService } from '../test/helpers/service.js';
import type { ClientCommand, ClientReply } from './lib/ws-client-process.js';

const SOCKETS = Number(process.argv[2] ?? 2000);
/** `objects`: also list what the API's heap holds per socket, by constructor (a heap snapshot each side). */
const OBJECTS = process.argv[3] === 'objects';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Reading {
  heap: number;
  external: number;
  rss: number;
}

async function settled(): Promise<Reading> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external + m.arrayBuffers, rss: m.rss };
}

/** Self size and count of the heap's objects by type and constructor name, from a heap snapshot. */
async function heapByConstructor(): Promise<Map<string, { bytes: number; count: number }>> {
  gc();
  const chunks: Buffer[] = [];
  for await (const chunk of v8.getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const [TYPE, NAME, SIZE] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + TYPE]];
    const name =
      type === 'string' || type === 'concatenated string' ? '' : snap.strings[snap.nodes[i + NAME]];
    const key = `${type}:${name.slice(0, 60)}`;
    const e = out.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += snap.nodes[i + SIZE];
    e.count++;
    out.set(key, e);
  }
  return out;
}

/** The kinds of object that grew most between two snapshots, per socket. */
function grownPerSocket(
  before: Map<string, { bytes: number; count: number }>,
  after: typeof before,
  n: number,
) {
  return [...after]
    .map(([key, a]) => {
      const b = before.get(key) ?? { bytes: 0, count: 0 };
      return {
        key,
        bytesPerSocket: Math.round((a.bytes - b.bytes) / n),
        countPerSocket: Number(((a.count - b.count) / n).toFixed(2)),
      };
    })
    .filter((e) => e.bytesPerSocket >= 40)
    .sort((x, y) => y.bytesPerSocket - x.bytesPerSocket)
    .slice(0, 25);
}

function perSocketKb(before: Reading, after: Reading, n: number) {
  const kb = (b: number) => Number((b / 1024 / n).toFixed(2));
  return {
    heapKb: kb(after.heap - before.heap),
    externalKb: kb(after.external - before.external),
    rssKb: kb(after.rss - before.rss),
  };
}

/** A client process holding `urls` open sockets until told to close. */
async function hold(urls: string[]): Promise<ChildProcess> {
  const child = fork(fileURLToPath(new URL('./lib/ws-client-process.js', import.meta.url)), [], {
    stdio: 'inherit',
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', (r: ClientReply) => (r.error ? reject(new Error(r.error)) : resolve()));
    child.send({ cmd: 'connect', urls } satisfies ClientCommand);
  });
  return child;
}

async function release(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once('exit', r));
  child.send({ cmd: 'close' } satisfies ClientCommand);
  await gone;
  await new Promise((r) => setTimeout(r, 500));
}

/** A bare ws server that answers each socket with a snapshot-shaped message, as the client waits for one. */
async function bareWs(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.send(JSON.stringify({ type: 'snapshot', jobs: [], eventId: '0-0' }));
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: () => new Promise((r) => wss.close(() => r())),
  };
}

async function main(): Promise<void> {
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  // 1. Baseline: bare ws.
  const bare = await bareWs();
  const bare0 = await settled();
  const bareClients = await hold(Array.from({ length: SOCKETS }, () => bare.url));
  const bare1 = await settled();
  await release(bareClients);
  await bare.close();
  const bareFigures = perSocketKb(bare0, bare1, SOCKETS);

  // 2. The vcfarm API, one user per socket (`?token=`), each socket past its snapshot.
  const svc = await startService({
    workers: 0,
    env: { WS_MAX_SOCKETS: String(SOCKETS + 10) },
  });
  try {
    const tokens: string[] = [];
    for (let i = 0; i < SOCKETS; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, SOCKETS - i) }, async () => {
          const res = await fetch(`${svc.baseUrl}/api/session`, { method: 'POST' });
          if (res.status !== 201) throw new Error(`session: ${res.status}`);
          return ((await res.json()) as { token: string }).token;
        }),
      );
      tokens.push(...batch);
    }
    const ws = svc.baseUrl.replace(/^http/, 'ws');
    // A few sockets first, so lazily made per-route state is not counted per socket.
    const warm = await hold(tokens.slice(0, 20).map((t) => `${ws}/api/ws?token=${t}`));
    await release(warm);
    const objects0 = OBJECTS ? await heapByConstructor() : undefined;
    const api0 = await settled();
    const clients = await hold(tokens.map((t) => `${ws}/api/ws?token=${t}`));
    const api1 = await settled();
    if (objects0)
      for (const e of grownPerSocket(objects0, await heapByConstructor(), SOCKETS))
        console.log(JSON.stringify(e));
    await release(clients);
    const apiFigures = perSocketKb(api0, api1, SOCKETS);
    console.log(
      JSON.stringify({
        sockets: SOCKETS,
        bareWs: bareFigures,
        vcfarmApi: apiFigures,
        vcfarmOverBare: {
          heapKb: Number((apiFigures.heapKb - bareFigures.heapKb).toFixed(2)),
          externalKb: Number((apiFigures.externalKb - bareFigures.externalKb).toFixed(2)),
        },
        loadavg: load(),
      }),
    );
  } finally {
    await svc.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
