import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { writePlans } from '../helpers/plans.js';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/processes.js';
import { scalar, startPrometheus, type TestPrometheus } from '../helpers/prometheus.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

/** The checkout's deploy/ folder (dist/test/integration → three levels up). */
const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const SESSIONS_PER_WINDOW = 3;

let svc: TestService;
let prom: TestPrometheus;
let tmp: string;
let workerUrl: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-prom-test-'));
  const tokenFile = path.join(tmp, 'admin-token');
  await writeFile(tokenFile, ADMIN_TOKEN, { mode: 0o600 });
  const workerPort = await freePort();
  // A tight session limit per IP, so the run has rate-limit refusals to count.
  const plans = writePlans(tmp, undefined, (p) => {
    p.sessionRateLimit = { max: SESSIONS_PER_WINDOW, windowSec: 600 };
  });
  svc = await startService({
    env: {
      ADMIN_TOKEN,
      POOL_SIZE: '1',
      WORKER_METRICS_PORT: String(workerPort),
      PLANS_FILE: plans,
      SWEEP_INTERVAL_SEC: '0',
    },
  });
  workerUrl = `http://127.0.0.1:${workerPort}`;
  prom = await startPrometheus(
    [
      { job: 'vcfarm-api', targets: [new URL(svc.baseUrl).host], credentialsFile: tokenFile },
      { job: 'vcfarm-worker', targets: [`127.0.0.1:${workerPort}`] },
    ],
    [path.join(DEPLOY, 'prometheus/vcfarm-rules.yml')],
  );
});

after(async () => {
  await prom?.stop();
  await svc?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function until(expr: string, expected: number, what: string): Promise<void> {
  let last = Number.NaN;
  await waitUntil(
    async () => {
      last = await scalar(prom, expr);
      return last === expected;
    },
    30_000,
    `${what}: ${expr} == ${expected}`,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last value ${last})`);
  });
}

test('/metrics wants the admin token; the worker serves its own metrics and readiness', async () => {
  const bare = await fetch(`${svc.baseUrl}/metrics`);
  assert.equal(bare.status, 401);
  const body = (await bare.json()) as Json;
  assert.equal(body.error, 'VC_ERR_UNAUTHORIZED');
  const wrong = await fetch(`${svc.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${'x'.repeat(40)}` },
  });
  assert.ok([401, 403].includes(wrong.status), `wrong token: ${wrong.status}`);
  const ok = await fetch(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await ok.text(), /^# HELP vcfarm_http_request_duration_seconds /m);

  const metrics = await fetch(`${workerUrl}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^vcfarm_pool_threads\{host="[^"]+",state="size"\} 1$/m);
  assert.equal((await fetch(`${workerUrl}/health/live`)).status, 200);
  const ready = await fetch(`${workerUrl}/health/ready`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ok' });
  assert.equal((await fetch(`${workerUrl}/nope`)).status, 404);
});

test('a real Prometheus scrapes API and worker: counts match the run, the stats agree, every dashboard query has data', async () => {
  // 1. Both targets are up for Prometheus.
  await until('sum(up{job=~"vcfarm-.*"})', 2, 'API and worker scraped');

  // 2. A run: three pitch-only jobs of three priority classes, one job cancelled while it runs,
  //    a voice conversion, a WebSocket watching, and session requests past the per-IP limit.
  const client = await ApiClient.anonymous(svc.baseUrl);
  const events = await client.openEvents();
  const small = await client.upload(tinyWav(1));
  assert.equal(small.status, 201);
  const priorities = ['high', 'normal', 'low'] as const;
  const jobs = [];
  for (const priority of priorities)
    jobs.push(
      await client.createJob({
        uploadId: small.body.upload.id,
        outputFormat: 'mp3',
        pitchSemitones: 2,
        priority,
      }),
    );
  // A voice conversion too: it loads the default model's ONNX sessions in the pool thread.
  jobs.push(
    await client.createJob({
      uploadId: small.body.upload.id,
      outputFormat: 'wav',
      voiceId: 'preset-espeak-f1',
    }),
  );
  for (const job of jobs) assert.equal((await client.waitForJob(job.id, 120_000)).state, 'completed');

  const long = await client.upload(humanSpeech(20));
  assert.equal(long.status, 201);
  const doomed = await client.createJob({
    uploadId: long.body.upload.id,
    outputFormat: 'mp3',
    pitchSemitones: 2,
  });
  await events.waitFor((m) => m.type === 'progress' && m.jobId === doomed.id && (m.progress ?? 0) > 0.02);
  // Running: the cancellation is asked for (202) and applied by its worker.
  assert.equal((await client.request('DELETE', `/api/jobs/${doomed.id}`)).status, 202);
  await events.waitFor((m) => m.type === 'cancelled' && m.jobId === doomed.id);

  let refused = 0;
  for (let i = 0; i < SESSIONS_PER_WINDOW + 1; i++) {
    const r = await fetch(`${svc.baseUrl}/api/session`, { method: 'POST' });
    if (r.status === 429) refused++;
  }
  assert.ok(refused >= 1, 'the session limit should refuse at least one request');

  // 3. Prometheus sees exactly that run.
  await until('sum(vcfarm_jobs_total{outcome="completed"})', 4, 'completed jobs');
  await until('sum(vcfarm_jobs_total{outcome="cancelled"})', 1, 'cancelled jobs');
  await until('sum(vcfarm_jobs_total{outcome="failed"})', 0, 'failed jobs');
  await until(
    'sum(vcfarm_jobs_total{kind="pitch",model="none",outcome="completed"})',
    3,
    'by kind and model',
  );
  await until('sum(vcfarm_jobs_total{kind="voice",model="default",outcome="completed"})', 1, 'the voice job');
  await until('sum(vcfarm_queue_wait_seconds_count)', 5, 'queue-wait observations');
  for (const p of priorities)
    await until(`vcfarm_queue_wait_seconds_count{priority="${p}"}`, p === 'normal' ? 3 : 1, p);
  await until('sum(vcfarm_job_realtime_factor_count)', 4, 'real-time factors');
  await until(
    'sum(vcfarm_http_request_duration_seconds_count{route="/api/jobs",method="POST",status_code="202"})',
    5,
    'job submissions',
  );
  await until('vcfarm_rate_limit_refusals_total{class="session"}', refused, 'session refusals');
  await until('vcfarm_queue_jobs{state="completed"}', 4, 'queue: completed');
  await until('vcfarm_queue_jobs{state="cancelled"}', 1, 'queue: cancelled');
  await until('vcfarm_queue_jobs{state="failed"}', 0, 'queue: failed (cancellations apart)');
  await until('sum(vcfarm_ws_clients)', 1, 'the open WebSocket');
  await until('vcfarm_redis_up', 1, 'Redis reachable');
  assert.ok((await scalar(prom, 'sum(vcfarm_ws_messages_sent_total{type="completed"})')) >= 4);
  assert.ok((await scalar(prom, 'vcfarm_ort_sessions')) > 0, 'the voice job loaded ONNX sessions');

  // 4. The stats route reads the same sources: same counts, cancellations apart in both.
  const stats = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body;
  assert.deepEqual(
    [stats.queue.completed, stats.queue.failed, stats.queue.cancelled],
    [
      await scalar(prom, 'vcfarm_queue_jobs{state="completed"}'),
      await scalar(prom, 'vcfarm_queue_jobs{state="failed"}'),
      await scalar(prom, 'vcfarm_queue_jobs{state="cancelled"}'),
    ],
  );
  // Throughput windows count BullMQ's finished sets, cancellations apart.
  const window15 = stats.throughput.find((t: Json) => t.window === '15m');
  assert.deepEqual([window15.completed, window15.failed, window15.cancelled], [4, 0, 1]);
  await waitUntil(
    async () => {
      const s = (await adminRequest(svc.baseUrl, 'GET', '/api/system/stats')).body;
      const w = s.workers[0];
      return w?.jobsDone === 4 && w.jobsCancelled === 1 && w.jobsFailed === 0;
    },
    10_000,
    'the heartbeat to carry the metrics counters',
  );
  events.close();

  // 5. Every panel of the Grafana dashboard: a valid query with data after the run. Rates need two
  //    samples after the last change, so give Prometheus a few scrapes first.
  await new Promise((r) => setTimeout(r, 3000));
  const dashboard = JSON.parse(await readFile(path.join(DEPLOY, 'grafana/vcfarm.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  assert.ok(dashboard.panels.length >= 10);
  const empty: string[] = [];
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, `panel ${panel.title} has no query`);
    for (const { expr } of panel.targets) {
      const result = await prom.query(expr); // throws on an invalid query
      if (result.length === 0) empty.push(`${panel.title}: ${expr}`);
    }
  }
  assert.deepEqual(empty, [], 'panels without data after the run');
  // The headline panels show the run itself, not just a series.
  const throughput = await prom.query(dashboard.panels[0].targets[0].expr);
  assert.ok(throughput.some((s) => s.metric.kind === 'pitch' && Number(s.value[1]) > 0));
  const wait = await prom.query(
    dashboard.panels.find((p) => p.title.startsWith('Queue wait'))?.targets[1].expr ?? '',
  );
  assert.ok(Number(wait[0].value[1]) > 0, 'p95 wait time should be a number');

  // 6. The alert rules loaded into this Prometheus, and none fires on a healthy run.
  const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as Json;
  const names = rules.data.groups.flatMap((g: Json) => g.rules.map((r: Json) => r.name));
  assert.equal(names.length, 6);
  const firing = rules.data.groups.flatMap((g: Json) => g.rules.filter((r: Json) => r.state === 'firing'));
  assert.deepEqual(firing, []);
});
