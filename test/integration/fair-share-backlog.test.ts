import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { ApiClient, type Json } from '../helpers/client.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Fair share as the backlog changes (QA s17, defect 2): priorities fixed at enqueue let a
// newcomer overtake a user's remaining older jobs once some of them started or were cancelled,
// and let a user's newest job overtake their own older ones. One worker thread, two pro users,
// the order the jobs start in.

const ADMIN_TOKEN = 'fair-backlog-admin-token-0123456789';
let svc: TestService;
let queue: Queue;

before(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-fair-backlog-'));
  const plans = generousPlans();
  plans.plans.pro.priorityBase = 1;
  svc = await startService({
    workers: 1,
    env: { POOL_SIZE: '1', PLANS_FILE: writePlans(dir, plans), ADMIN_TOKEN },
  });
  queue = new Queue('conversions', { connection: { url: svc.redis.url }, prefix: 'vcfarm' });
});
after(async () => {
  await queue?.close();
  await svc?.close();
});

async function proUser(name: string): Promise<ApiClient> {
  const res = await fetch(`${svc.baseUrl}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, plan: 'pro' }),
  });
  assert.equal(res.status, 201);
  const body = (await res.json()) as Json;
  return new ApiClient(svc.baseUrl, { token: body.apiKey, userId: body.user.id });
}

async function uploadOf(client: ApiClient, file: string): Promise<string> {
  const up = await client.upload(file);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return up.body.upload.id as string;
}

test('a user whose backlog shrank (a job started, one cancelled) alternates with a newcomer, and their own jobs keep their order', async () => {
  const alice = await proUser('alice');
  const bob = await proUser('bob');
  const [aLong, aShort, bShort] = await Promise.all([
    uploadOf(alice, tinyWav(30, 16000)),
    uploadOf(alice, tinyWav(0.1, 8000)),
    uploadOf(bob, tinyWav(0.1, 8000)),
  ]);
  const aliceEvents = await alice.openEvents();

  // 1. While nothing is taken, Alice queues A1 (long) and A2, A3, A4 (short).
  await queue.pause();
  const a1 = (await alice.createJob({ uploadId: aLong, outputFormat: 'wav' })).id;
  const [a2, a3, a4] = [
    (await alice.createJob({ uploadId: aShort, outputFormat: 'wav' })).id,
    (await alice.createJob({ uploadId: aShort, outputFormat: 'wav' })).id,
    (await alice.createJob({ uploadId: aShort, outputFormat: 'wav' })).id,
  ];
  // 2. A1 starts; as soon as it runs the queue pauses again, so nothing else starts.
  await queue.resume();
  await aliceEvents.waitFor((m) => m.type === 'progress' && m.jobId === a1, 60_000);
  await queue.pause();
  assert.equal((await alice.job(a2)).state, 'queued', 'A1 was still running when the queue paused');

  // 3. Alice cancels A3 and queues A5; then Bob (a newcomer) queues B1, B2, B3.
  assert.equal((await alice.request('DELETE', `/api/jobs/${a3}`)).status, 200);
  const a5 = (await alice.createJob({ uploadId: aShort, outputFormat: 'wav' })).id;
  const bJobs: string[] = [];
  for (let i = 0; i < 3; i++) bJobs.push((await bob.createJob({ uploadId: bShort, outputFormat: 'wav' })).id);

  // 4. Everything runs, one job at a time.
  await queue.resume();
  const names = new Map<string, string>([
    [a2, 'A2'],
    [a4, 'A4'],
    [a5, 'A5'],
    [bJobs[0], 'B1'],
    [bJobs[1], 'B2'],
    [bJobs[2], 'B3'],
  ]);
  const views: { name: string; startedAt: number }[] = [];
  for (const [id, name] of names) {
    const client = name.startsWith('A') ? alice : bob;
    const view = await client.waitForJob(id, 300_000);
    assert.equal(view.state, 'completed', JSON.stringify(view.error));
    views.push({ name, startedAt: view.startedAt as number });
  }
  aliceEvents.close();
  const order = views.sort((x, y) => x.startedAt - y.startedAt).map((v) => v.name);
  // Round-robin between the two users from the first job on, each user's jobs oldest first.
  // (With priorities fixed at enqueue: B1, A2, B2, A5, B3, A4.)
  assert.deepEqual(order, ['A2', 'B1', 'A4', 'B2', 'A5', 'B3']);
});
