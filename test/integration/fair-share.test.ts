import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient, type Json } from '../helpers/client.js';
import type { LiveEvents } from '../helpers/live-events.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

const ADMIN_TOKEN = 'fair-share-admin-token-0123456789';
let svc: TestService;
let file: string;

before(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-fair-'));
  // Plans as shipped for ordering (free base 1000, pro base 1), with limits out of the way.
  const plans = generousPlans();
  plans.plans.free.priorityBase = 1000;
  plans.plans.pro.priorityBase = 1;
  plans.plans.free.maxActiveJobs = 2;
  svc = await startService({
    workers: 1,
    env: { POOL_SIZE: '2', PLANS_FILE: writePlans(dir, plans), ADMIN_TOKEN },
  });
  // 0.1 s of speech: a conversion (two ffmpeg processes) takes well under 100 ms.
  file = tinyWav(0.1, 8000);
});
after(async () => {
  await svc?.close();
});

async function uploadOnce(client: ApiClient): Promise<string> {
  const up = await client.upload(file);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return up.body.upload.id as string;
}

/** Waits for every job's final event on the user's WebSocket, then reads each job once. */
async function allDone(
  client: ApiClient,
  events: LiveEvents,
  ids: string[],
  timeoutMs: number,
): Promise<Json[]> {
  const pending = new Set(ids);
  const final = new Set(['completed', 'failed', 'cancelled']);
  for (const m of events.messages) if ('jobId' in m && final.has(m.type)) pending.delete(m.jobId);
  if (pending.size > 0)
    await events.waitFor((m) => {
      if (final.has(m.type) && m.jobId) pending.delete(m.jobId);
      return pending.size === 0;
    }, timeoutMs);
  const views: Json[] = [];
  for (const id of ids) views.push(await client.job(id));
  return views;
}

async function apiKeyClient(name: string, plan: string): Promise<ApiClient> {
  const res = await fetch(`${svc.baseUrl}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, plan }),
  });
  assert.equal(res.status, 201);
  const body = (await res.json()) as Json;
  return new ApiClient(svc.baseUrl, { token: body.apiKey, userId: body.user.id });
}

test('fair share: 200 jobs of A, then 5 of B — B is served at once and finishes long before A; pro overtakes', async () => {
  const a = await ApiClient.anonymous(svc.baseUrl);
  const b = await ApiClient.anonymous(svc.baseUrl);
  const pro = await apiKeyClient('pro-user', 'pro');
  const [ua, ub, up] = await Promise.all([uploadOnce(a), uploadOnce(b), uploadOnce(pro)]);
  const [aEvents, bEvents, proEvents] = await Promise.all([a.openEvents(), b.openEvents(), pro.openEvents()]);

  // 1. A queues 200 short jobs.
  const aJobs: string[] = [];
  for (let i = 0; i < 200; i++) aJobs.push((await a.createJob({ uploadId: ua, outputFormat: 'wav' })).id);

  // 2. Then B queues 5 while A's backlog is long.
  const bArrival = Date.now();
  const bJobs: string[] = [];
  for (let i = 0; i < 5; i++) bJobs.push((await b.createJob({ uploadId: ub, outputFormat: 'wav' })).id);

  // 3. A little later a pro user queues one job.
  await bEvents.waitFor((m) => m.type === 'progress' && m.jobId === bJobs[4], 60_000);
  const proArrival = Date.now();
  const proJob = (await pro.createJob({ uploadId: up, outputFormat: 'wav' })).id;

  const aViews = await allDone(a, aEvents, aJobs, 180_000);
  const bViews = await allDone(b, bEvents, bJobs, 30_000);
  const [proView] = await allDone(pro, proEvents, [proJob], 30_000);
  for (const e of [aEvents, bEvents, proEvents]) e.close();
  for (const v of [...aViews, ...bViews, proView])
    assert.equal(v.state, 'completed', JSON.stringify(v.error));

  const aStartsAfterB = aViews
    .map((v) => v.startedAt as number)
    .filter((t) => t >= bArrival)
    .sort((x, y) => x - y);
  const bFirstStart = Math.min(...bViews.map((v) => v.startedAt as number));
  const bLastFinish = Math.max(...bViews.map((v) => v.finishedAt as number));
  const aLastFinish = Math.max(...aViews.map((v) => v.finishedAt as number));
  const aFinishedAfterB = aViews.filter((v) => v.finishedAt > bLastFinish).length;
  const aStartedBetweenProArrivalAndStart = aViews.filter(
    (v) => v.startedAt >= proArrival && v.startedAt < proView.startedAt,
  ).length;
  const jobMs = aViews.map((v) => v.finishedAt - v.startedAt).sort((x, y) => x - y);
  const report = {
    medianJobMs: jobMs[jobMs.length >> 1],
    bFirstStartAfterArrivalMs: bFirstStart - bArrival,
    aJobsStartedBeforeBFirst: aStartsAfterB.filter((t) => t < bFirstStart).length,
    bAllDoneAfterArrivalMs: bLastFinish - bArrival,
    aAllDoneAfterBArrivalMs: aLastFinish - bArrival,
    aJobsFinishingAfterB: aFinishedAfterB,
    proStartAfterArrivalMs: proView.startedAt - proArrival,
    aJobsStartedBeforePro: aStartedBetweenProArrivalAndStart,
  };
  console.log(`fair-share measurement: ${JSON.stringify(report)}`);

  // B's first job starts before A's 10th job started after B's arrival.
  assert.ok(aStartsAfterB.length >= 10, 'A still had a backlog when B arrived');
  assert.ok(bFirstStart < aStartsAfterB[9], JSON.stringify(report));
  // B's jobs all finish long before A's backlog does: most of A's backlog is still to run.
  assert.ok(aFinishedAfterB >= 100, JSON.stringify(report));
  assert.ok(bLastFinish - bArrival < (aLastFinish - bArrival) / 4, JSON.stringify(report));
  // The pro job overtakes both free backlogs: at most one free job per thread got in first.
  assert.ok(aStartedBetweenProArrivalAndStart <= 2, JSON.stringify(report));
});

test('the active cap: a user limited to 1 running job never has two running at once', async () => {
  const res = await fetch(`${svc.baseUrl}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'capped-one', plan: 'free', overrides: { maxActiveJobs: 1 } }),
  });
  const body = (await res.json()) as Json;
  const one = new ApiClient(svc.baseUrl, { token: body.apiKey, userId: body.user.id });
  const uploadId = await uploadOnce(one);
  const ids: string[] = [];
  const events = await one.openEvents();
  for (let i = 0; i < 4; i++) ids.push((await one.createJob({ uploadId, outputFormat: 'flac' })).id);
  const views = await allDone(one, events, ids, 60_000);
  events.close();
  const spans = views.map((v) => [v.startedAt as number, v.finishedAt as number]).sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++)
    assert.ok(spans[i][0] >= spans[i - 1][1], `jobs overlapped: ${JSON.stringify(spans)}`);
  for (const v of views) assert.equal(v.state, 'completed');
});
