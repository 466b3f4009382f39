import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest, WorkerWatch } from '../helpers/admin.js';
import { waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
let watch: WorkerWatch;

before(async () => {
  // No worker at first: the scale requests below meet an empty farm, then workers starting up.
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN, POOL_SIZE: '1', SCALE_WAIT_MS: '3000' } });
  watch = new WorkerWatch(svc.redis.url);
});
after(async () => {
  watch?.close();
  await svc?.close();
});

/** The status URL of a scale request, polled (100 ms apart, up to `tries`) until it answers 200 "applied". */
async function followToApplied(statusUrl: string, tries = 100) {
  let status = await adminRequest(svc.baseUrl, 'GET', statusUrl);
  for (let i = 0; i < tries && status.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await adminRequest(svc.baseUrl, 'GET', statusUrl);
  }
  return status;
}

test('with no live worker a scale request is answered 202 "stored", and a worker that starts applies and acknowledges it', async () => {
  // 1. Nobody can apply it: not "applied", but stored, with a way to follow it.
  const res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 2 });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.match(res.body.message, /no live worker/);
  assert.deepEqual(res.body.workers, []);
  const statusUrl: string = res.body.statusUrl;
  assert.equal((await adminRequest(svc.baseUrl, 'GET', statusUrl)).status, 202);

  // 2. A worker starts (POOL_SIZE 1) and comes up at the stored size instead.
  const w = svc.startWorker();
  await w.ready;
  await watch.waitFor(w.id, (s) => s.size === 2 && s.threadCount === 2, 15_000, 'the stored size');

  // 3. Its reconciliation acknowledges the stored request: the status URL now says applied.
  const status = await followToApplied(statusUrl, 60);
  assert.equal(status.status, 200, JSON.stringify(status.body));
  assert.deepEqual(
    status.body.workers.map((x: { id: string; size: number; applied: boolean }) => [x.id, x.size, x.applied]),
    [[w.id, 2, true]],
  );
});

test('scale requests racing a worker start-up: every 200 is true and the worker ends at the last stored size', async () => {
  const sizes = [3, 1, 2, 3];
  for (const [round, last] of sizes.entries()) {
    // 1. A new worker starts while requests arrive during its start-up, before and after it subscribes.
    const w = svc.startWorker();
    let ready = false;
    void w.ready.then(() => {
      ready = true;
    });
    let n = 0;
    let lastSent = 0;
    while (!ready) {
      const size = n++ % 2 === 0 ? last : (last % 3) + 1;
      lastSent = size;
      const res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: size });
      assert.ok(res.status === 200 || res.status === 202, JSON.stringify(res.body));
      // 2. "Applied" is a fact: at least one worker, each of them at the requested size.
      if (res.status === 200) {
        assert.ok(res.body.workers.length > 0, 'a 200 names the workers that applied it');
        for (const x of res.body.workers) assert.deepEqual([x.size, x.applied], [size, true]);
      }
      await new Promise((r) => setTimeout(r, 20 + round * 15));
    }
    // 3. The last size stored wins on every live worker, including the one that just started,
    //    with no further request to remind it.
    assert.ok(n > 0);
    for (const worker of svc.workers.filter((x) => x.process.exitCode === null)) {
      await watch.waitFor(
        worker.id,
        (s) => s.size === lastSent && s.threadCount === lastSent,
        15_000,
        `size ${lastSent} on ${worker.id}`,
      );
    }
    // 4. Keep the farm small: stop this round's worker.
    const exited = new Promise((r) => w.process.once('exit', r));
    w.process.kill('SIGTERM');
    await exited;
  }
});

// QA s18, item 3: a 202 showed each worker that had not acknowledged yet as a placeholder (host "",
// pid 0, size 0, previous null) though its heartbeat said all three.
test('a 202 shows what the heartbeats know of a worker that has not acknowledged yet', async () => {
  // 1. A live worker that cannot answer: stopped (SIGSTOP) right after a heartbeat.
  const w = svc.startWorker();
  await w.ready;
  const known = await watch.waitFor(w.id, (s) => s.threadCount === s.size, 15_000, 'a settled pool');
  const pid = w.process.pid ?? 0;
  process.kill(pid, 'SIGSTOP');
  try {
    const size = known.size + 1;
    const res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', {
      new_worker_count: size,
      worker_id: w.id,
    });
    // 2. Not applied: 202, with the worker's real host, pid and size, and the size it had.
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.previous, known.size);
    assert.deepEqual(res.body.workers, [
      { id: w.id, host: known.host, pid, size: known.size, applied: false },
    ]);
    assert.ok(known.host.length > 0 && pid > 0);
    // 3. Woken, it applies the size; the status URL says so.
    process.kill(pid, 'SIGCONT');
    const status = await followToApplied(res.body.statusUrl);
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.deepEqual(
      status.body.workers.map((x: { id: string; size: number; applied: boolean }) => [
        x.id,
        x.size,
        x.applied,
      ]),
      [[w.id, size, true]],
    );
  } finally {
    process.kill(pid, 'SIGCONT');
  }
});

test('autoscale on is "applied" (200) only once the workers have adopted it; else 202 and a status URL', async () => {
  // 1. No live worker: stored, not applied.
  for (const x of svc.workers) if (x.process.exitCode === null) await x.stop();
  await waitUntil(
    async () => (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body.totals?.workers === 0,
    20_000,
    'no live worker',
  );
  const stored = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', {
    autoscale: { min: 2, max: 3 },
  });
  assert.equal(stored.status, 202, JSON.stringify(stored.body));
  assert.match(stored.body.message, /no live worker/);
  assert.deepEqual([stored.body.autoscale, stored.body.workers], [{ enabled: true, min: 2, max: 3 }, []]);
  const statusUrl: string = stored.body.statusUrl;
  assert.equal((await adminRequest(svc.baseUrl, 'GET', statusUrl)).status, 202);

  // 2. A worker starts (POOL_SIZE 1), adopts the stored setting (at least the minimum) and says so.
  const w = svc.startWorker();
  await w.ready;
  await watch.waitFor(
    w.id,
    (s) => s.autoscale.enabled && s.autoscale.min === 2 && s.size >= 2,
    15_000,
    'autoscaling within 2-3',
  );
  const status = await followToApplied(statusUrl, 60);
  assert.equal(status.status, 200, JSON.stringify(status.body));
  assert.deepEqual(
    status.body.workers.map((x: { id: string; applied: boolean }) => [x.id, x.applied]),
    [[w.id, true]],
  );

  // 3. With the worker live: 200 names it, at a size inside the new bounds; a 202 (a slow thread
  //    start on a loaded machine) is followed to its 200.
  const res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { autoscale: { min: 3, max: 3 } });
  assert.ok(res.status === 200 || res.status === 202, JSON.stringify(res.body));
  const done = res.status === 200 ? res : await followToApplied(res.body.statusUrl);
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.deepEqual(
    done.body.workers.map((x: { id: string; size: number; applied: boolean }) => [x.id, x.size, x.applied]),
    [[w.id, 3, true]],
  );
  // What the 200 said is what the worker reports (a heartbeat from before the resize may say min 3, size 2).
  const s = await watch.waitFor(
    w.id,
    (x) => x.autoscale.min === 3 && x.size === 3,
    5000,
    'a heartbeat with min 3 at size 3',
  );
  assert.deepEqual([s.threadCount, s.autoscale.enabled, s.autoscale.max], [3, true, 3]);
  await w.stop();
});
