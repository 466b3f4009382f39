import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import pino from 'pino';
import { startRedis } from '../test/helpers/redis.js';
import { allowedCores, WorkerPool } from '../workers/pool/index.js';

/**
 * Queue overhead (issue 4): no-op jobs through BullMQ alone vs BullMQ + the pinned pool (each
 * job a round trip to a pool thread), in jobs/s, and enqueue → completed-event latency p50/p99
 * seen by a QueueEvents listener (one job in flight at a time).
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

async function throughput(name: string, processor: () => Promise<unknown>): Promise<number> {
  const queue = new Queue(name, { connection });
  const worker = new Worker(name, processor, { connection, concurrency: cores.length, autorun: false });
  await queue.addBulk(
    Array.from({ length: JOBS }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })),
  );
  let done = 0;
  const finished = new Promise<void>((resolve) =>
    worker.on('completed', () => {
      if (++done === JOBS) resolve();
    }),
  );
  const t0 = performance.now();
  void worker.run();
  await finished;
  const rate = JOBS / ((performance.now() - t0) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

async function latency(name: string, processor: () => Promise<unknown>, n: number): Promise<number[]> {
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const worker = new Worker(name, processor, { connection, concurrency: cores.length });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const job = await queue.add('noop', { i });
    await job.waitUntilFinished(events);
    samples.push(performance.now() - t0);
  }
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return samples.sort((a, b) => a - b);
}

const pct = (s: number[], p: number) =>
  s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
const bare = await throughput('bare', async () => undefined);
const pooled = await throughput('pooled', () => pool.ping());
console.log(
  `no-op jobs/s, concurrency ${cores.length}: bare BullMQ ${bare.toFixed(0)}, BullMQ + pool ${pooled.toFixed(0)}, ratio ${(pooled / bare).toFixed(3)}`,
);
const lb = await latency('lat-bare', async () => undefined, 300);
const lp = await latency('lat-pooled', () => pool.ping(), 300);
console.log(`enqueue → completed event, bare:   p50 ${pct(lb, 50)} ms, p99 ${pct(lb, 99)} ms`);
console.log(`enqueue → completed event, pooled: p50 ${pct(lp, 50)} ms, p99 ${pct(lp, 99)} ms`);
await pool.close();
await redis.stop();
