import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import pino from 'pino';
import { startRedis } from '../test/helpers/redis.js';
import { JobLanes } from '../workers/job-lanes.js';
import { allowedCores, WorkerPool } from '../workers/pool/index.js';

/**
 * Queue overhead (issue 4): no-op jobs through one plain BullMQ Worker vs the service's intake
 * (job lanes, one BullMQ Worker per thread, each job a round trip to a pinned pool thread), in
 * jobs/s, and enqueue → completed-event latency p50/p99 seen by a QueueEvents listener (one job
 * in flight at a time).
 *   node dist/bench/queue-overhead.js [jobs=2000]
 */
const JOBS = Number(process.argv[2] ?? 2000);
const redis = await startRedis();
const connection = { url: redis.url, maxRetriesPerRequest: null };
const cores = allowedCores();
const pool = new WorkerPool({
  filename: fileURLToPath(new URL('../workers/tasks/pool-thread.js', import.meta.url)),
  size: cores.length,
  cores,
  pin: true,
  logger: pino({ level: 'silent' }),
});
await pool.start();

/** Something that takes jobs (a plain BullMQ Worker, or the service's job lanes), started with a completion listener. */
type StartTaker = (onCompleted: () => void) => Promise<{ close(): Promise<void> }>;

async function throughput(name: string, start: StartTaker): Promise<number> {
  const queue = new Queue(name, { connection });
  await queue.addBulk(
    Array.from({ length: JOBS }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })),
  );
  let done = 0;
  let resolveFinished = () => {};
  const finished = new Promise<void>((resolve) => {
    resolveFinished = resolve;
  });
  const t0 = performance.now();
  const taker = await start(() => {
    if (++done === JOBS) resolveFinished();
  });
  await finished;
  const rate = JOBS / ((performance.now() - t0) / 1000);
  await taker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

/** One BullMQ Worker of concurrency `cores` running `processor`. */
const bareWorker =
  (name: string, processor: () => Promise<unknown>): StartTaker =>
  async (onCompleted) => {
    const worker = new Worker(name, processor, { connection, concurrency: cores.length, autorun: false });
    worker.on('completed', onCompleted);
    void worker.run();
    return worker;
  };

/** The service's intake: one lane (BullMQ Worker of concurrency 1) per pool thread. */
const lanesOf =
  (name: string, processor: () => Promise<unknown>): StartTaker =>
  async (onCompleted) => {
    const lanes = new JobLanes<unknown, unknown>({
      queueName: name,
      redisUrl: redis.url,
      prefix: 'bull',
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      processor,
      logger: pino({ level: 'silent' }),
    });
    lanes.on('completed', onCompleted);
    await lanes.resize(cores.length);
    return lanes;
  };

async function latency(name: string, start: StartTaker, n: number): Promise<number[]> {
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const taker = await start(() => {});
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const job = await queue.add('noop', { i });
    await job.waitUntilFinished(events);
    samples.push(performance.now() - t0);
  }
  await taker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return samples.sort((a, b) => a - b);
}

const pct = (s: number[], p: number) =>
  s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
const noop = async () => undefined;
const bare = await throughput('bare', bareWorker('bare', noop));
const pooled = await throughput(
  'pooled',
  lanesOf('pooled', () => pool.ping()),
);
console.log(
  `no-op jobs/s, ${cores.length} cores: bare BullMQ (one Worker, concurrency ${cores.length}) ${bare.toFixed(0)}, job lanes + pool ${pooled.toFixed(0)}, ratio ${(pooled / bare).toFixed(3)}`,
);
const lb = await latency('lat-bare', bareWorker('lat-bare', noop), 300);
const lp = await latency(
  'lat-pooled',
  lanesOf('lat-pooled', () => pool.ping()),
  300,
);
console.log(`enqueue → completed event, bare:   p50 ${pct(lb, 50)} ms, p99 ${pct(lb, 99)} ms`);
console.log(`enqueue → completed event, pooled: p50 ${pct(lp, 50)} ms, p99 ${pct(lp, 99)} ms`);
await pool.close();
await redis.stop();
