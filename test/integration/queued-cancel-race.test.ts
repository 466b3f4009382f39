import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Cancelling a queued job: by an operator (DELETE /api/admin/jobs/:id, whose message the user then
// reads), and twice at once (two tabs, or the user and an operator). The second of two racing
// cancels met BullMQ's "could not be removed" for a job the first had just removed (a 500), and
// any cancel after it a 404; the operator's own status URL answered 404 for a job it had cancelled.

let svc: TestService;
before(async () => {
  // No worker: every job stays queued until it is cancelled.
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
});
after(async () => {
  await svc?.close();
});

async function queuedJob(user: ApiClient, wav: Buffer, name: string): Promise<string> {
  const up = await user.uploadBytes(wav, name);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  assert.equal(job.state, 'queued');
  return job.id;
}

async function cancelledCount(): Promise<number> {
  const stats = await adminRequest(svc.baseUrl, 'GET', '/api/system/stats');
  assert.equal(stats.status, 200, JSON.stringify(stats.body));
  assert.equal(stats.body.queue.cancelled, stats.body.throughput[0].cancelled);
  return stats.body.queue.cancelled as number;
}

const OPERATOR = { code: 'VC_ERR_CANCELLED', message: 'cancelled by an operator' };
const USER = { code: 'VC_ERR_CANCELLED', message: 'cancelled by the user' };

test("an operator's cancel of a queued job: 200 cancelled, the user reads 'cancelled by an operator', counted once", async () => {
  const before = await cancelledCount();
  const user = await ApiClient.anonymous(svc.baseUrl);
  const events = await user.openEvents();
  const id = await queuedJob(user, await readFile(tinyWav(1, 8000)), 'op.wav');

  const res = await adminRequest(svc.baseUrl, 'DELETE', `/api/admin/jobs/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.job.state, 'cancelled');
  assert.deepEqual(res.body.job.error, OPERATOR);
  assert.equal(res.body.userId, user.session?.userId);
  await events.waitFor((m) => m.type === 'cancelled' && m.jobId === id, 10_000);
  events.close();

  // The user sees who stopped it; the operator's view (the 202's statusUrl) shows the same.
  const mine = await user.job(id);
  assert.deepEqual([mine.state, mine.error], ['cancelled', OPERATOR]);
  const view = await adminRequest(svc.baseUrl, 'GET', `/api/admin/jobs/${id}`);
  assert.equal(view.status, 200, JSON.stringify(view.body));
  assert.deepEqual(
    [view.body.job.state, view.body.job.error, view.body.userId],
    ['cancelled', OPERATOR, user.session?.userId],
  );

  // Asked again, by either: the job's cancelled state (still the operator's), not counted again.
  const again = await adminRequest(svc.baseUrl, 'DELETE', `/api/admin/jobs/${id}`);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.deepEqual([again.body.job.state, again.body.job.error], ['cancelled', OPERATOR]);
  const mineAgain = await user.request('DELETE', `/api/jobs/${id}`);
  assert.equal(mineAgain.status, 200, JSON.stringify(mineAgain.body));
  assert.deepEqual([mineAgain.body.job.state, mineAgain.body.job.error], ['cancelled', OPERATOR]);
  assert.equal(await cancelledCount(), before + 1);

  // Another user still cannot reach it.
  const other = await ApiClient.anonymous(svc.baseUrl);
  assert.equal((await other.request('DELETE', `/api/jobs/${id}`)).status, 404);
});

test('two cancels of the same queued job at once: both 200 cancelled, one cancellation counted', async () => {
  const before = await cancelledCount();
  const user = await ApiClient.anonymous(svc.baseUrl);
  const wav = await readFile(tinyWav(1, 8000));
  const rounds = 12;
  for (let round = 0; round < rounds; round++) {
    const id = await queuedJob(user, wav, `r${round}.wav`);
    // Even rounds: two tabs of the user; odd rounds: the user and an operator. The second 0-2 ms later.
    const second = () =>
      round % 2 === 0
        ? user.request('DELETE', `/api/jobs/${id}`)
        : adminRequest(svc.baseUrl, 'DELETE', `/api/admin/jobs/${id}`);
    const [a, b] = await Promise.all([
      user.request('DELETE', `/api/jobs/${id}`),
      new Promise((r) => setTimeout(r, round % 3)).then(second),
    ]);
    for (const res of [a, b]) {
      assert.equal(
        res.status,
        200,
        `round ${round}: ${a.status} ${JSON.stringify(a.body)} / ${b.status} ${JSON.stringify(b.body)}`,
      );
      assert.equal(res.body.job.state, 'cancelled');
      assert.ok(
        [USER.message, OPERATOR.message].includes(res.body.job.error?.message),
        JSON.stringify(res.body),
      );
    }
    // Both answers name the same canceller: the one whose cancel removed the job.
    assert.deepEqual(a.body.job.error, b.body.job.error, `round ${round}`);
    assert.deepEqual((await user.job(id)).error, a.body.job.error);
  }
  assert.equal(await cancelledCount(), before + rounds);
  const usage = (await adminRequest(svc.baseUrl, 'GET', '/api/admin/usage')).body;
  const mine = usage.users.find((u: { userId: string }) => u.userId === user.session?.userId);
  assert.deepEqual([mine?.cancelled, mine?.queued], [rounds, 0]);
});
