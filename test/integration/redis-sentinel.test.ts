import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { MASTER_NAME, type SentinelSet, startSentinelSet } from '../helpers/sentinel.js';
import { startService, type TestService } from '../helpers/service.js';

let set: SentinelSet;
let svc: TestService;
before(async () => {
  set = await startSentinelSet();
  svc = await startService({
    workers: 1,
    env: {
      REDIS_SENTINELS: set.sentinels,
      REDIS_MASTER_NAME: MASTER_NAME,
      REDIS_PASSWORD_FILE: set.passwordFile,
      POOL_SIZE: '2',
      // A job whose worker lost its lock comes back soon after the failover, not after 30 s.
      JOB_LOCK_MS: '5000',
      STALLED_INTERVAL_MS: '5000',
    },
  });
});
after(async () => {
  await svc?.close();
  await set?.stop();
});

test('Sentinel: the primary killed during a batch; every job completes once, 503 only in the failover window, WebSockets resume', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const events = await client.openEvents();
  const source = espeakSentence('en-us+f3', 'A short sentence for the failover batch.');
  // 1. Uploads first, then the jobs in one burst: when the primary dies, one job runs and the
  //    others wait (or bounce off the user's active cap as delayed jobs), however fast the machine.
  const uploads: string[] = [];
  for (let i = 0; i < 8; i++) {
    const up = await client.upload(source);
    assert.equal(up.status, 201);
    uploads.push(up.body.upload.id);
  }
  const jobs: string[] = [];
  for (const uploadId of uploads) jobs.push((await client.createJob({ uploadId, outputFormat: 'wav' })).id);

  // A request on the request path (token lookup, rate limit) every 50 ms, throughout.
  const probes: { at: number; status: number; ms: number }[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const sent = Date.now();
      const res = await client.request('GET', '/api/workspace').catch(() => ({ status: 0 }));
      probes.push({ at: Date.now(), status: res.status, ms: Date.now() - sent });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  // 2. Kill the primary once the batch is under way: one job done, and another one running (its
  //    progress seen after that), the rest still to run.
  await events.waitFor((m) => m.type === 'completed' && jobs.includes(m.jobId as string), 60_000);
  const since = Date.now();
  const done = (id: unknown) => events.messages.some((m) => m.type === 'completed' && m.jobId === id);
  await events.waitFor(
    (m) =>
      m.at >= since &&
      (m.type === 'progress' || m.type === 'stage') &&
      jobs.includes(m.jobId as string) &&
      !done(m.jobId),
    60_000,
  );
  const killedAt = Date.now();
  set.primary.process.kill('SIGKILL');
  await waitUntil(async () => (await set.masterPort()) === set.replica.port, 30_000, 'the failover');
  const failedOverAt = Date.now();

  // Every job completes, and the same WebSocket reports it.
  // (A status read may meet the failover window's 503 too: the probes above judge those.)
  for (const id of jobs) {
    let state = '';
    await waitUntil(
      async () => {
        const res = await client.request('GET', `/api/jobs/${id}`);
        if (res.status === 200) state = res.body.job.state;
        return ['completed', 'failed', 'cancelled'].includes(state);
      },
      120_000,
      `job ${id} to finish`,
    );
    assert.equal(state, 'completed', `job ${id}`);
    await events.waitFor((m) => m.type === 'completed' && m.jobId === id, 30_000);
  }
  // Go on probing until the API has answered 200 five times in a row (or give up after 10 s).
  await waitUntil(
    () => probes.length >= 5 && probes.slice(-5).every((p) => p.status === 200),
    10_000,
    'the API to answer again',
  ).catch(() => {});
  probing = false;
  await prober;
  events.close();

  // None ran twice to completion: one 'completed' each (the worker publishes it once the queue
  // recorded the completion; a run whose lock a long failover took is retried, not completed twice).
  for (const id of jobs) {
    const completions = events.messages.filter((m) => m.type === 'completed' && m.jobId === id);
    assert.equal(completions.length, 1, `job ${id} completions`);
  }

  // 503 (never another error) and only between the kill and the end of the failover.
  const bad = probes.filter((p) => p.status !== 200);
  assert.deepEqual(
    [...new Set(bad.map((p) => p.status))].filter((s) => s !== 503),
    [],
  );
  for (const p of bad) assert.ok(p.at >= killedAt, 'a 503 before the primary was killed');
  const windowMs = bad.length ? bad[bad.length - 1].at - bad[0].at : 0;
  const lastBadAfterKill = bad.length ? bad[bad.length - 1].at - killedAt : 0;
  console.log(
    `sentinel failover: sentinels switched ${failedOverAt - killedAt} ms after the kill; ` +
      `API answered 503 for ${windowMs} ms (${bad.length} of ${probes.length} probes), last 503 ${lastBadAfterKill} ms after the kill; ` +
      `slowest answer ${Math.max(...probes.map((p) => p.ms))} ms (a request that passed the fail-fast check before the kill waits for the new primary)`,
  );
  assert.ok(
    probes.slice(-5).every((p) => p.status === 200),
    'the API answers again after the failover',
  );
  assert.ok(
    bad.every((p) => p.at <= failedOverAt + 5_000),
    '503s go on well after the sentinels named the new primary',
  );
});
