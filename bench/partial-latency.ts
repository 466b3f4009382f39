import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeFile } from '../test/helpers/audio-io.js';
import { ApiClient } from '../test/helpers/client.js';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { startService } from '../test/helpers/service.js';

/**
 * Results that play before the job ends (issue 16): time to first audio through
 * GET /api/jobs/:id/result?partial=1 on a real service (Redis, the API, one worker process with
 * one pool thread), for a long input, against the baseline a client without it waits for: the
 * whole job (measured in the same run, on the same job).
 *   - first byte: the job's start (its startedAt) → the first chunk at the client;
 *   - first audio: the job's start → the moment the bytes received decode (ffmpeg) to ≥ 1 s;
 *   - whole job: startedAt → finishedAt.
 * A voice job also prints the worker's steps to its first audio (see `steps`). A kind may be given
 * twice (`voice,voice`): the first voice job of a fresh worker, then one on a thread that ran one.
 *   node dist/bench/partial-latency.js [minutes=10] [kinds=pitch,voice]
 */
const MINUTES = Number(process.argv[2] ?? 10);
const KINDS = (process.argv[3] ?? 'pitch,voice').split(',');
const PLAYABLE_SEC = 1;
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-partial-bench-'));
const input = humanSpeech(Math.ceil((MINUTES * 60) / 8.66));
const svc = await startService({ workers: 1, env: { POOL_SIZE: '1' } });

async function decodedSec(bytes: Buffer): Promise<number> {
  const file = path.join(dir, 'head.mp3');
  await writeFile(file, bytes);
  return (await decodeFile(file, { sampleRate: 8000 }).catch(() => new Float32Array(0))).length / 8000;
}

async function measure(kind: string): Promise<void> {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(input);
  if (up.status !== 201) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
  const settings =
    kind === 'voice'
      ? { voiceId: 'preset-espeak-m3' }
      : { pitchSemitones: -3 /* rubberband's cheaper mode */ };
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3', ...settings });
  const res = await fetch(`${svc.baseUrl}${job.partialUrl}`);
  if (res.status !== 200 || !res.body) throw new Error(`partial: ${res.status}`);
  const chunks: Buffer[] = [];
  let firstByte: number | undefined;
  let firstAudio: number | undefined;
  for await (const chunk of res.body) {
    const now = Date.now();
    chunks.push(Buffer.from(chunk));
    firstByte ??= now;
    if (firstAudio === undefined && (await decodedSec(Buffer.concat(chunks))) >= PLAYABLE_SEC)
      firstAudio = now;
  }
  const done = await client.waitForJobEnd(job.id);
  if (done.state !== 'completed' || !done.startedAt || !done.finishedAt) throw new Error(`job ${done.state}`);
  const whole = (done.finishedAt - done.startedAt) / 1000;
  const fb = ((firstByte ?? Number.NaN) - done.startedAt) / 1000;
  const fa = ((firstAudio ?? Number.NaN) - done.startedAt) / 1000;
  console.log(
    `${kind.padEnd(6)} ${(done.durationSec / 60).toFixed(1)} min input: first byte ${fb.toFixed(2)} s, ` +
      `first ${PLAYABLE_SEC} s of audio ${fa.toFixed(2)} s, whole job ${whole.toFixed(1)} s ` +
      `(first audio after ${((100 * fa) / whole).toFixed(1)} % of the wait, ${(whole / fa).toFixed(0)}× sooner; ` +
      `load ${os.loadavg()[0].toFixed(1)})`,
  );
  if (kind === 'voice') console.log(`       ${steps(job.id, fb)}`);
}

/**
 * The worker's own account of a voice job's first audio ("conversion completed"'s firstAudio): the
 * job's start to its thread, then each step's wall time from the start and, in brackets, the CPU
 * time the worker process and its live ffmpeg children spent since its thread took the task; then
 * the follower's first byte.
 */
function steps(jobId: string, firstByteSec: number): string {
  const line = svc.workers[0].logs.find((l) => l.msg === 'conversion completed' && l.jobId === jobId);
  const first = line?.firstAudio as
    | { threadMs: number; steps: Record<string, [number, number, number]> }
    | undefined;
  if (!first) return 'no firstAudio in the worker log';
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const parts = Object.entries(first.steps).map(
    ([k, [wall, cpu, children]]) => `${k} ${s(first.threadMs + wall)} (${s(cpu)}+${s(children)})`,
  );
  return `thread ${s(first.threadMs)}  ${parts.join('  ')}  follower ${firstByteSec.toFixed(2)}  (s from start; CPU s of the worker + its ffmpeg children in brackets)`;
}

try {
  for (const kind of KINDS) await measure(kind);
} finally {
  await svc.close();
  await rm(dir, { recursive: true, force: true });
}
