import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { ADMIN_TOKEN, adminRequest, WorkerWatch } from '../test/helpers/admin.js';
import { ApiClient } from '../test/helpers/client.js';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { startService } from '../test/helpers/service.js';

/**
 * Scale latency (issue 4): with a backlog waiting, the time from POST /api/system/scale (1 → 2)
 * until two jobs run at once, and for a shrink (2 → 1) until the surplus thread has left.
 *   node dist/bench/scale-latency.js [rounds=5]
 */
const ROUNDS = Number(process.argv[2] ?? 5);
const svc = await startService({ workers: 1, env: { ADMIN_TOKEN, POOL_SIZE: '1' } });
const queue = new Queue('conversions', { connection: { url: svc.redis.url }, prefix: 'vcfarm' });
const watch = new WorkerWatch(svc.redis.url);
const client = await ApiClient.anonymous(svc.baseUrl);
const file = path.join(os.tmpdir(), `vcfarm-scale-bench-${process.pid}.wav`);
execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', humanSpeech(1), '-t', '6', '-ac', '1', file]);
const up = await client.upload(file);
const grow: number[] = [];
const shrink: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < 8; i++)
    await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', voiceId: 'preset-espeak-m3' });
  while ((await queue.getActiveCount()) < 1) await new Promise((res) => setTimeout(res, 5));
  let t0 = performance.now();
  await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 2 });
  while ((await queue.getActiveCount()) < 2) await new Promise((res) => setTimeout(res, 2));
  grow.push(performance.now() - t0);
  t0 = performance.now();
  const res = await adminRequest(svc.baseUrl, 'POST', '/api/system/scale', { new_worker_count: 1 });
  let status = res;
  while (status.status === 202) {
    await new Promise((r2) => setTimeout(r2, 5));
    status = await adminRequest(svc.baseUrl, 'GET', res.body.statusUrl);
  }
  shrink.push(performance.now() - t0);
  await queue.drain();
  while ((await queue.getActiveCount()) > 0) await new Promise((r2) => setTimeout(r2, 20));
}
const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms`;
};
console.log(`grow 1 → 2, request → second job running: ${fmt(grow)} (${ROUNDS} rounds)`);
console.log(`shrink 2 → 1, request → surplus thread gone (after its current job): ${fmt(shrink)}`);
watch.close();
await queue.close();
await svc.close();
