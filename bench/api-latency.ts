import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiClient } from '../test/helpers/client.js';
import { startCluster } from '../test/helpers/cluster.js';
import { speechClip } from '../test/helpers/fixtures.js';

/**
 * Queue overhead at the API (issue 4): jobs one at a time through the whole service (a `vcfarm
 * api` process, a `vcfarm worker`, Redis), from the client sending POST /api/jobs to the client
 * receiving the job's `completed` WebSocket event, straight to the API process and through
 * HAProxy. A job here is a real 1 s WAV transcode (no no-op job exists at the API), so the
 * figure that answers "what does vcfarm add" is the overhead: end-to-end time minus the time the
 * worker spent on the job (finishedAt - startedAt): HTTP, validation, enqueue, a lane fetching
 * the job, the result and the event travelling back through Redis to the socket.
 *   node dist/bench/api-latency.js [jobs=200] [baseline-dist]
 * With a second argument (another build's `dist`, e.g. the previous commit's, built elsewhere),
 * the same jobs run first against that build and then against this one, in the same run, and
 * the ratios are printed: each change is measured against the code before it on the same load.
 */
const JOBS = Number(process.argv[2] ?? 200);
const BASELINE = process.argv[3];
const WARM_UP = 10;
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-api-latency-'));
const clip = speechClip(path.join(dir, 'clip.wav'), 1);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))].toFixed(1);

interface Figures {
  overheadP50: number;
  overheadP99: number;
}

async function measure(label: string, baseUrl: string): Promise<Figures> {
  const client = await ApiClient.anonymous(baseUrl);
  const up = await client.upload(clip);
  const events = await client.openEvents();
  const total: number[] = [];
  const overhead: number[] = [];
  const post: number[] = [];
  const toStart: number[] = [];
  const toEvent: number[] = [];
  for (let i = 0; i < WARM_UP + JOBS; i++) {
    const t0 = performance.now();
    const wall0 = Date.now();
    const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
    const posted = performance.now() - t0;
    const event = await events.waitFor((m) => m.type === 'completed' && m.jobId === job.id);
    const e2e = performance.now() - t0;
    const done = await client.job(job.id);
    if (i < WARM_UP) continue;
    const worked = (done.finishedAt ?? 0) - (done.startedAt ?? 0);
    total.push(e2e);
    overhead.push(e2e - worked);
    post.push(posted);
    toStart.push((done.startedAt ?? 0) - wall0);
    toEvent.push(event.at - (done.finishedAt ?? 0));
  }
  events.close();
  console.log(`${label}: ${JOBS} jobs one at a time (1 s WAV → WAV), POST /api/jobs → completed event`);
  console.log(`  end to end p50 ${pct(total, 50)} ms, p99 ${pct(total, 99)} ms`);
  console.log(
    `  overhead (minus the worker's time on the job) p50 ${pct(overhead, 50)} ms, p99 ${pct(overhead, 99)} ms`,
  );
  console.log(`  of which: POST answered p50 ${pct(post, 50)} ms, p99 ${pct(post, 99)} ms;`);
  console.log(`    POST sent → job active (ms clock) p50 ${pct(toStart, 50)}, p99 ${pct(toStart, 99)};`);
  console.log(
    `    job finished → event received (ms clock) p50 ${pct(toEvent, 50)}, p99 ${pct(toEvent, 99)}`,
  );
  return { overheadP50: Number(pct(overhead, 50)), overheadP99: Number(pct(overhead, 99)) };
}

async function run(build: string, cli?: string): Promise<Figures[]> {
  const cluster = await startCluster({ instances: 1, ...(cli ? { cli } : {}) });
  try {
    console.log(
      `== ${build}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    return [
      await measure('direct to the API process', cluster.apis[0].url),
      await measure('through HAProxy', cluster.haproxy.url),
    ];
  } finally {
    await cluster.close();
  }
}

try {
  const base = BASELINE ? await run(`baseline ${BASELINE}`, path.resolve(BASELINE, 'src/cli.js')) : undefined;
  const now = await run('this build');
  if (base)
    for (const [i, name] of ['direct', 'through HAProxy'].entries())
      console.log(
        `${name}: overhead p50 ratio ${(now[i].overheadP50 / base[i].overheadP50).toFixed(2)}, ` +
          `p99 ratio ${(now[i].overheadP99 / base[i].overheadP99).toFixed(2)} (this build / baseline)`,
      );
} finally {
  await rm(dir, { recursive: true, force: true });
}
