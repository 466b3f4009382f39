import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { assertAccessible, launchChromium, pageWithToken } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// GET /api/queue for a user with 200 waiting jobs in a queue of 1,000: every one of the user's
// jobs gets its place and wait, and the Redis work per request grows with the user's own waiting
// jobs, not with the queue (no job is read).

let svc: TestService;
let redis: Redis;
let queue: Queue;

before(async () => {
  svc = await startService({ workers: 1 });
  redis = new Redis(svc.redis.url);
  queue = new Queue('conversions', { connection: { url: svc.redis.url }, prefix: 'vcfarm' });
});

after(async () => {
  await queue?.close();
  redis?.disconnect();
  await svc?.close();
});

/** Calls per command since Redis started, from INFO commandstats. */
async function commandCalls(): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1], Number(m[2]));
  return calls;
}

/** The commands (and how many of each) Redis ran while `run` ran, INFO itself left out. */
async function redisCost(run: () => Promise<void>): Promise<{ total: number; by: Map<string, number> }> {
  const before = await commandCalls();
  await run();
  const afterCalls = await commandCalls();
  const by = new Map<string, number>();
  let total = 0;
  for (const [cmd, n] of afterCalls) {
    const d = n - (before.get(cmd) ?? 0) - (cmd === 'info' ? 1 : 0);
    if (d > 0) {
      by.set(cmd, d);
      total += d;
    }
  }
  return { total, by };
}

test('a user with 200 queued jobs among 1,000 sees each one’s place and wait; the Redis cost is bounded by their own jobs', async () => {
  const owner = await ApiClient.anonymous(svc.baseUrl);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const light = await ApiClient.anonymous(svc.baseUrl);
  const upload = async (c: ApiClient) => (await c.upload(tinyWav(1))).body.upload.id as string;
  const [mine, theirs, lights] = [await upload(owner), await upload(other), await upload(light)];

  // 1. Two jobs finish while the worker runs: the recent throughput the waits are computed from.
  for (const p of [1, 2]) {
    const job = await owner.createJob({ uploadId: mine, outputFormat: 'wav', pitchSemitones: p });
    assert.equal((await owner.waitForJob(job.id)).state, 'completed');
  }
  // 2. The worker stops: from now on every job waits.
  const worker = svc.workers[0].process;
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill('SIGTERM');
  await exited;

  // 3. 1,000 waiting jobs: the owner's 200 interleaved with another user's 799, and one of a third user.
  const ownerJobs: string[] = [];
  for (let i = 0; i < 200; i++) {
    for (let k = 0; k < 4; k++)
      if (i * 4 + k < 799)
        await other.createJob({ uploadId: theirs, outputFormat: 'wav', pitchSemitones: 1 + (k % 3) });
    ownerJobs.push((await owner.createJob({ uploadId: mine, outputFormat: 'mp3', pitchSemitones: -1 })).id);
  }
  const lightJob = (await light.createJob({ uploadId: lights, outputFormat: 'wav', pitchSemitones: 3 })).id;
  const counts = await queue.getJobCounts('prioritized', 'wait');
  assert.equal(counts.prioritized + counts.wait, 1000);

  // 4. Every one of the owner's jobs has a place, each a different one, in the order they were made.
  let body: {
    jobs: { jobId: string; position: number; etaSec: number | null }[];
    throughput: { perMin: number; jobSec: number };
  } = { jobs: [], throughput: { perMin: 0, jobSec: 0 } };
  const ownerCost = await redisCost(async () => {
    const res = await owner.request('GET', '/api/queue');
    assert.equal(res.status, 200);
    body = res.body;
  });
  assert.deepEqual(new Set(body.jobs.map((j) => j.jobId)), new Set(ownerJobs));
  const positions = body.jobs.map((j) => j.position);
  assert.equal(new Set(positions).size, 200, 'no two jobs share a place');
  assert.ok(positions.every((p) => p >= 1 && p <= 1000));
  assert.deepEqual(
    body.jobs.map((j) => j.jobId),
    ownerJobs,
    'fair share keeps a user’s own jobs in the order they were made',
  );
  // Fair share interleaves: the owner's first job goes ahead of most of the other user's 799.
  assert.ok(positions[0] <= 10, `first place ${positions[0]}`);
  // BullMQ's own order agrees: the job it would hand out at each of those places is the owner's.
  const order = await queue.getPrioritized(0, -1);
  for (const j of body.jobs.filter((_, i) => i % 37 === 0))
    assert.equal(order[j.position - 1]?.id, j.jobId, `job at place ${j.position}`);
  // The wait: nothing runs (the worker stopped), so the job in place p waits for the p − 1 ahead
  // of it, each the work of a recent job (two completed lately).
  assert.ok(body.throughput.perMin > 0);
  for (const j of body.jobs) assert.equal(j.etaSec, Math.ceil((j.position - 1) * body.throughput.jobSec));

  // 5. The Redis cost: about one command per waiting job of the caller's, and a bounded number of job
  //    reads (below), whatever the queue's length.
  const lightCost = await redisCost(async () => {
    const res = await light.request('GET', '/api/queue');
    assert.deepEqual(
      res.body.jobs.map((j: { jobId: string }) => j.jobId),
      [lightJob],
    );
  });
  for (const cost of [ownerCost, lightCost]) {
    assert.equal(cost.by.get('hgetall') ?? 0, 0, `hgetall: ${JSON.stringify([...cost.by])}`);
    // The wait's rate (read at most once a second per instance): an HMGET for each of the two completed
    // jobs it is measured from and for each of the first 20 waiting jobs, whose audio sets their work
    // (those further back count as their mean: the cost does not grow with the queue); the running
    // jobs' list (empty here) and the plain wait list are the two LRANGEs.
    assert.ok((cost.by.get('hmget') ?? 0) <= 2 + 20, `hmget: ${JSON.stringify([...cost.by])}`);
    assert.ok((cost.by.get('lrange') ?? 0) <= 2, `lrange: ${JSON.stringify([...cost.by])}`);
  }
  assert.ok(
    ownerCost.total <= 200 + 40,
    `owner's request: ${ownerCost.total} commands ${JSON.stringify([...ownerCost.by])}`,
  );
  assert.ok(
    lightCost.total <= 40,
    `one waiting job in a queue of 1,000: ${lightCost.total} commands ${JSON.stringify([...lightCost.by])}`,
  );

  // 6. The page: each loaded card shows its place, and a line sums up all 200.
  const browser = await launchChromium();
  try {
    const page = await pageWithToken(browser, svc.baseUrl, owner.session?.token ?? '');
    const summary = page.locator('#queue-summary');
    await summary.waitFor({ timeout: 20_000 });
    const first = body.jobs[0];
    const last = body.jobs[199];
    assert.match(
      (await summary.textContent()) ?? '',
      new RegExp(
        `^200 of your jobs wait in the queue: ${ordinalRe(first.position)} in line .* for the first, ${ordinalRe(last.position)} in line .* for the last\\.$`,
      ),
    );
    const cards = page.locator('#jobs .job[data-state="queued"]');
    await cards.nth(19).waitFor();
    for (let i = 0; i < 20; i++) {
      const card = cards.nth(i);
      const id = (await card.getAttribute('data-job-id')) ?? '';
      const place = body.jobs.find((j) => j.jobId === id);
      assert.ok(place, `card ${i} is a waiting job of the owner`);
      await card.locator('.job-queue', { hasText: `${place.position}` }).waitFor();
    }
    await assertAccessible(page, '200 jobs waiting');
  } finally {
    await browser.close();
  }
  console.log(
    `# GET /api/queue at 1,000 waiting: 200 own jobs ${ownerCost.total} Redis commands, 1 own job ${lightCost.total}`,
  );
});

/** "next" for 1, else the number followed by any ordinal suffix. */
function ordinalRe(n: number): string {
  return n === 1 ? 'next' : `${n}(st|nd|rd|th)`;
}
