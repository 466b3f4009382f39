import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ConversionJobView } from '../src/queue/index.js';
import { ApiClient } from '../test/helpers/client.js';
import { type CliProcess, startCluster } from '../test/helpers/cluster.js';
import { speechClip } from '../test/helpers/fixtures.js';

/**
 * Queue overhead at the API (issue 4): jobs one at a time through the whole service (a `vcfarm
 * api` process, a `vcfarm worker`, Redis), from the client sending POST /api/jobs to the client
 * receiving the job's `completed` WebSocket event, straight to the API process and through
 * HAProxy. A job here is a real 1 s WAV transcode (no no-op job exists at the API), so the
 * figure that answers "what does vcfarm add" is the overhead: end-to-end time minus the time the
 * worker spent on the job (finishedAt - startedAt): HTTP, validation, enqueue, a lane fetching
 * the job, the result and the event travelling back through Redis to the socket. Each of those
 * phases is printed too (p50/p99): the server's from its `Server-Timing` header (the API runs with
 * SERVER_TIMING=true), the worker's from its log lines, delivery from the event's stream id; and
 * the HTTP floor: a GET /health/live between two jobs on the same path, what any answer costs.
 *   node dist/bench/api-latency.js [jobs=200] [baseline-dist] [baseline-first|this-first]
 * With a second argument (another build's `dist`, e.g. the previous commit's, built elsewhere),
 * the same jobs run against that build and against this one, in the same run (the baseline first
 * unless the third argument says `this-first`: alternate it between runs, so neither build always
 * gets the later, maybe busier, minutes), and the ratios are printed: each change is measured
 * against the code before it on the same load. `scripts/bench-api-latency.sh` does all of it in
 * one command (npm run bench:api-latency).
 */
const JOBS = Number(process.argv[2] ?? 200);
const BASELINE = process.argv[3];
const THIS_FIRST = process.argv[4] === 'this-first';
const WARM_UP = 10;
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-api-latency-'));
const clip = speechClip(path.join(dir, 'clip.wav'), 1);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))].toFixed(1);

interface Figures {
  overheadP50: number;
  overheadP99: number;
  postP50: number;
  postP99: number;
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** `Server-Timing: auth;dur=1.20, rate;dur=0.41, ...` → { auth: 1.2, rate: 0.41, ... } (SERVER_TIMING=true). */
function serverPhases(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /^\s*([a-z]+);dur=([0-9.]+)/.exec(part);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Named samples in ms, printed as one `name p50 / p99` line each, in the order first added. */
class Phases {
  readonly samples = new Map<string, number[]>();
  add(name: string, ms: number): void {
    const xs = this.samples.get(name) ?? [];
    xs.push(ms);
    this.samples.set(name, xs);
  }
  print(): void {
    for (const [name, xs] of this.samples)
      console.log(`  ${name.padEnd(44)} p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms`);
  }
}

async function measure(label: string, baseUrl: string, worker: CliProcess): Promise<Figures> {
  const client = await ApiClient.anonymous(baseUrl);
  const up = await client.upload(clip);
  const events = await client.openEvents();
  const phases = new Phases();
  const total: number[] = [];
  const overhead: number[] = [];
  const runs: { jobId: string; e2e: number; startedAt: number; finishedAt: number }[] = [];
  for (let i = 0; i < WARM_UP + JOBS; i++) {
    const t0 = performance.now();
    const res = await client.request('POST', '/api/jobs', {
      uploadId: up.body.upload.id,
      outputFormat: 'wav',
    });
    if (res.status !== 202) throw new Error(`create job: ${res.status} ${JSON.stringify(res.body)}`);
    const posted = performance.now() - t0;
    const job = res.body.job as ConversionJobView;
    const event = await events.waitFor((m) => m.type === 'completed' && m.jobId === job.id);
    const e2e = performance.now() - t0;
    const done = await client.job(job.id);
    // The HTTP floor on the same path and connection pool: the cheapest answer the API gives
    // (liveness: no Redis, no body), timed by the client and by the server, between two jobs.
    const f0 = performance.now();
    const live = await fetch(`${baseUrl}/health/live`);
    await live.arrayBuffer();
    const floor = performance.now() - f0;
    if (i < WARM_UP) continue;
    phases.add('HTTP floor: GET /health/live (client)', floor);
    const liveTotal = serverPhases(live.headers.get('server-timing')).total;
    if (liveTotal !== undefined)
      phases.add('HTTP floor: around it (client - server total)', floor - liveTotal);
    const startedAt = done.startedAt ?? 0;
    const finishedAt = done.finishedAt ?? 0;
    total.push(e2e);
    overhead.push(e2e - (finishedAt - startedAt));
    runs.push({ jobId: job.id, e2e, startedAt, finishedAt });
    // The server's phases (SERVER_TIMING), and what the client saw of the POST around them.
    const server = serverPhases(res.headers.get('server-timing'));
    for (const name of ['auth', 'rate', 'space', 'parse', 'upload', 'quota', 'enqueue', 'reply'])
      if (server[name] !== undefined) phases.add(`server: ${name}`, server[name]);
    if (server.total !== undefined) {
      phases.add('server: whole request (onRequest → reply)', server.total);
      phases.add('HTTP around it (client POST - server total)', posted - server.total);
    }
    phases.add('POST answered (client)', posted);
    // ms clocks of one machine: the job's data.createdAt is taken just before admission + add.
    if (server.enqueue !== undefined)
      phases.add('enqueued → picked up by a lane', startedAt - job.createdAt - server.enqueue);
    const xaddMs = Number(String(event.eventId).split('-')[0]);
    phases.add('finished → completed event XADD', xaddMs - finishedAt);
    phases.add('XADD → event received on the socket', event.at - xaddMs);
  }
  events.close();
  // The worker's side from its log lines (pino's ISO `time`, the same ms clock): "conversion started"
  // is logged just before the task goes to a pool thread, "conversion completed" when the result is
  // back with the thread's own processing time; BullMQ stamps finishedAt when it stores the result.
  const started = new Map<string, number>();
  const completed = new Map<string, { at: number; processingMs: number }>();
  for (const l of worker.logs) {
    const id = String(l.jobId);
    const at = Date.parse(String(l.time));
    if (l.msg === 'conversion started') started.set(id, at);
    if (l.msg === 'conversion completed' && typeof l.processingMs === 'number')
      completed.set(id, { at, processingMs: l.processingMs });
  }
  const withWorker: number[] = [];
  for (const r of runs) {
    const begin = started.get(r.jobId);
    const end = completed.get(r.jobId);
    if (begin === undefined || end === undefined) continue;
    phases.add('worker: picked up → task handed to a thread', begin - r.startedAt);
    phases.add('worker: thread round trip minus its processing', end.at - begin - end.processingMs);
    phases.add('worker: result → BullMQ finishedAt', r.finishedAt - end.at);
    withWorker.push(r.e2e - end.processingMs);
  }
  console.log(`${label}: ${JOBS} jobs one at a time (1 s WAV → WAV), POST /api/jobs → completed event`);
  console.log(`  end to end p50 ${pct(total, 50)} ms, p99 ${pct(total, 99)} ms`);
  console.log(
    `  overhead (minus the worker's time on the job) p50 ${pct(overhead, 50)} ms, p99 ${pct(overhead, 99)} ms`,
  );
  if (withWorker.length > 0)
    console.log(
      `  overhead (minus only the thread's processing time) p50 ${pct(withWorker, 50)} ms, p99 ${pct(withWorker, 99)} ms`,
    );
  console.log('  phases:');
  phases.print();
  const posted = phases.samples.get('POST answered (client)') ?? [];
  return {
    overheadP50: Number(pct(overhead, 50)),
    overheadP99: Number(pct(overhead, 99)),
    postP50: Number(pct(posted, 50)),
    postP99: Number(pct(posted, 99)),
  };
}

async function run(build: string, cli?: string): Promise<Figures[]> {
  const cluster = await startCluster({
    instances: 1,
    env: { SERVER_TIMING: 'true' },
    ...(cli ? { cli } : {}),
  });
  try {
    console.log(`== ${build}; load average ${loadAverage()}`);
    return [
      await measure('direct to the API process', cluster.apis[0].url, cluster.worker),
      await measure('through HAProxy', cluster.haproxy.url, cluster.worker),
    ];
  } finally {
    await cluster.close();
  }
}

const figures = (f: Figures) =>
  `overhead p50 ${f.overheadP50} / p99 ${f.overheadP99} ms, POST p50 ${f.postP50} / p99 ${f.postP99} ms`;

try {
  const runBase = () => run(`baseline ${BASELINE}`, path.resolve(BASELINE ?? '', 'src/cli.js'));
  const before = BASELINE && !THIS_FIRST ? await runBase() : undefined;
  const now = await run('this build');
  const base = before ?? (BASELINE && THIS_FIRST ? await runBase() : undefined);
  console.log(`== summary (load average at the end ${loadAverage()})`);
  for (const [i, name] of ['direct', 'through HAProxy'].entries()) {
    console.log(`${name}: this build ${figures(now[i])}`);
    if (!base) continue;
    console.log(`${name}: baseline   ${figures(base[i])}`);
    console.log(
      `${name}: overhead p50 ratio ${(now[i].overheadP50 / base[i].overheadP50).toFixed(2)}, ` +
        `p99 ratio ${(now[i].overheadP99 / base[i].overheadP99).toFixed(2)} (this build / baseline)`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
