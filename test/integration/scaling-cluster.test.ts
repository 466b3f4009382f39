import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest, WorkerWatch } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

const services: TestService[] = [];
const watches: WorkerWatch[] = [];
after(async () => {
  for (const w of watches) w.close();
  for (const s of services) await s.close();
});

test('one request reaches every worker process; worker_id reaches one; a later worker starts at the stored size', async () => {
  // Reconciling every 50 ms (the least allowed), a reconcile often reads a request from Redis while
  // the worker still applies it from its message: "previous" must stay the size before the request.
  const svc = await startService({
    workers: 2,
    env: { ADMIN_TOKEN, POOL_SIZE: '1', AUTOSCALE_INTERVAL_MS: '50' },
  });
  services.push(svc);
  const watch = new WorkerWatch(svc.redis.url);
  watches.push(watch);
  const [a, b] = svc.workers.map((w) => w.id);

  // 1. No worker_id: both processes resize and say so.
  const all = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 2 });
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.equal(all.body.previous, 1);
  assert.deepEqual(
    all.body.workers.map((w: { id: string; size: number; applied: boolean; pid: number }) => [
      w.id,
      w.size,
      w.applied,
      w.pid > 0,
    ]),
    [
      [a, 2, true, true],
      [b, 2, true, true],
    ],
  );

  // 2. worker_id: only that one.
  const one = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', {
    new_worker_count: 3,
    worker_id: b,
  });
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.deepEqual(
    one.body.workers.map((w: { id: string }) => w.id),
    [b],
  );
  assert.equal((await watch.waitFor(b, (s) => s.size === 3, 5000, 'b at 3')).threadCount, 3);
  // The other process kept its size (its heartbeat after the targeted request still says 2).
  assert.equal(
    (await watch.waitFor(a, (s) => s.updatedAt > Date.now() - 500, 5000, 'fresh heartbeat of a')).size,
    2,
  );

  // 3. A worker started now comes up at the stored size for everyone.
  const late = svc.startWorker({ POOL_SIZE: '1' });
  await late.ready;
  assert.equal((await watch.waitFor(late.id, () => true, 5000, 'late worker')).size, 2);

  // 4. A restarted worker keeps its own stored size.
  svc.workers[1].process.kill('SIGTERM');
  await new Promise((r) => svc.workers[1].process.once('exit', r));
  const again = svc.startWorker({ WORKER_ID: b, POOL_SIZE: '1' });
  await again.ready;
  assert.equal((await watch.waitFor(b, (s) => s.pid === again.process.pid, 5000, 'b restarted')).size, 3);
});

test('autoscaling: a burst grows the pool to max, idleness shrinks it to min, each decision shown', async () => {
  const svc = await startService({
    workers: 1,
    env: {
      ADMIN_TOKEN,
      AUTOSCALE: '1,2',
      AUTOSCALE_IDLE_MS: '1500',
      AUTOSCALE_COOLDOWN_MS: '300',
      AUTOSCALE_INTERVAL_MS: '100',
    },
  });
  services.push(svc);
  const watch = new WorkerWatch(svc.redis.url);
  watches.push(watch);
  const id = svc.workers[0].id;
  assert.equal((await watch.waitFor(id, () => true, 5000, 'worker')).size, 1, 'starts at min');

  // 1. A burst of jobs: the pool grows to max within a few seconds.
  const client = await ApiClient.anonymous(svc.baseUrl);
  // In the service's data folder, removed with it.
  const small = path.join(svc.dataDir, 'small.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', humanSpeech(1), '-t', '3', '-ac', '1', small]);
  const up = await client.upload(small);
  const jobs = [];
  for (let i = 0; i < 16; i++)
    jobs.push(
      await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 2 }),
    );
  const burstAt = Date.now();
  const grown = await watch.waitFor(id, (s) => s.size === 2, 8000, 'growth to max');
  assert.ok(Date.now() - burstAt < 8000);
  assert.ok(
    grown.autoscale.recent.some((d) => d.to === 2 && /waiting/.test(d.reason)),
    JSON.stringify(grown.autoscale),
  );

  // 2. Never beyond max while the burst lasts; all jobs complete.
  const finishedAt: number[] = [];
  for (const j of jobs) {
    const done = await client.waitForJob(j.id, 60_000);
    assert.equal(done.state, 'completed');
    finishedAt.push(done.finishedAt ?? 0);
  }

  // 3. Idle: back to min once a thread has been idle for the idle period. With nothing waiting, one
  // of the two threads is idle from the end of the second-to-last job on (the last may still run):
  // counted from there as the worker recorded it, not from when this test noticed the end (later,
  // on a loaded machine).
  const shrunk = await watch.waitFor(id, (s) => s.size === 1 && s.threadCount === 1, 8000, 'shrink to min');
  const shrink = shrunk.autoscale.recent.filter((d) => d.to === 1 && /idle/.test(d.reason)).at(-1);
  assert.ok(shrink, JSON.stringify(shrunk.autoscale));
  const idleFrom = finishedAt.sort((x, y) => y - x)[1];
  assert.ok(shrink.at - idleFrom >= 1000, `not before the idle period (${shrink.at - idleFrom} ms)`);
  assert.ok(shrunk.autoscale.recent.every((d) => d.to >= 1 && d.to <= 2));
  // Both decisions are shown by the stats route, with their reasons.
  const shown = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body.workers[0].autoscale
    .recent;
  assert.ok(shown.some((d: { to: number }) => d.to === 2) && shown.some((d: { to: number }) => d.to === 1));
  assert.ok(shown.every((d: { reason: string }) => d.reason.length > 0));

  // 4. A manual size pins the pool; autoscaling resumes only when re-enabled.
  const manual = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 2 });
  assert.equal(manual.status, 200);
  const stats = await adminRequest(svc.baseUrl, 'GET', '/api/system/stats');
  assert.equal(stats.body.autoscale.enabled, false);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await watch.stats(id))?.size, 2, 'pinned: no idle shrink while autoscaling is off');
  const re = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { autoscale: { min: 1, max: 2 } });
  assert.equal(re.status, 200);
  await watch.waitFor(id, (s) => s.size === 1 && s.autoscale.enabled, 8000, 'autoscaling again');
  const badRange = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', {
    autoscale: { min: 3, max: 2 },
  });
  assert.equal(badRange.status, 400);
});

test('turning autoscaling off keeps the size the pool has, answered 200 only once every worker keeps it, and a restart keeps it too', async () => {
  const svc = await startService({
    workers: 1,
    // A loaded machine may start threads slowly: the answers wait up to 20 s for the workers' acks.
    env: {
      ADMIN_TOKEN,
      POOL_SIZE: '1',
      AUTOSCALE_INTERVAL_MS: '100',
      AUTOSCALE_COOLDOWN_MS: '300',
      SCALE_WAIT_MS: '20000',
    },
  });
  services.push(svc);
  const watch = new WorkerWatch(svc.redis.url);
  watches.push(watch);
  const id = svc.workers[0].id;
  const scale = (body: unknown) => adminRequest(svc.baseUrl, 'POST', '/api/system/scale', body);
  // 1. A manual size, then autoscaling within 1-2: the pool leaves the manual 3.
  assert.equal((await scale({ new_worker_count: 3 })).status, 200);
  assert.equal((await watch.waitFor(id, (s) => s.size === 3, 8000, 'manual 3')).size, 3);
  assert.equal((await scale({ autoscale: { min: 1, max: 2 } })).status, 200);
  const auto = await watch.waitFor(
    id,
    (s) => s.autoscale.enabled && s.size <= 2 && s.threadCount === s.size,
    8000,
    'autoscaled into 1-2',
  );
  // 2. Off: the answer says the worker keeps the size it has, as a fact.
  const off = await scale({ autoscale: false });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.deepEqual(off.body.autoscale, { enabled: false });
  assert.deepEqual(
    off.body.workers.map((w: { id: string; size: number; applied: boolean }) => [w.id, w.size, w.applied]),
    [[id, auto.size, true]],
  );
  // 3. It stays there through many reconciles (every 100 ms), never back to the old manual 3.
  await watch.waitFor(id, (s) => !s.autoscale.enabled, 5000, 'a heartbeat with autoscaling off');
  for (let i = 0; i < 30; i++) {
    const s = await watch.stats(id);
    assert.equal(s?.size, auto.size, `reconcile ${i}: back to the old manual size`);
    assert.equal(s?.autoscale.enabled, false);
    await new Promise((r) => setTimeout(r, 100));
  }
  // 4. A restart of the worker (same id, POOL_SIZE 1) comes up at the size it kept.
  svc.workers[0].process.kill('SIGTERM');
  await new Promise((r) => svc.workers[0].process.once('exit', r));
  const again = svc.startWorker({ WORKER_ID: id });
  await again.ready;
  const restarted = await watch.waitFor(id, (s) => s.pid === again.process.pid, 8000, 'restarted');
  assert.equal(restarted.size, auto.size);
  // 5. A manual size for everyone wins again.
  assert.equal((await scale({ new_worker_count: 3 })).status, 200);
  assert.equal((await watch.waitFor(id, (s) => s.size === 3, 8000, 'manual 3 again')).size, 3);
});
