import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiClient } from '../test/helpers/client.js';
import { decodePcm, humanSpeech } from '../test/helpers/fixtures.js';
import { startService, type TestService } from '../test/helpers/service.js';
import { childPids, processCpu } from './lib/cpu.js';
import { highBandDb } from './lib/spectrum.js';

const BASELINE_DIST = process.env.BENCH_BASELINE_DIST;

/**
 * Pitch-only jobs at the physical limit (issue 10): N jobs of 30 s of 44.1 kHz stereo real
 * speech → +4 semitones → 44.1 kHz mono mp3, on every core, run
 *   (a) bare: `xargs -P <cores>` of one plain ffmpeg command per file, downmixing before
 *       rubberband (the cheapest way ffmpeg itself makes this output);
 *   (b) through the whole service: upload once, N jobs over HTTP, one worker process with its
 *       pinned pool of one thread per core, timed from the first POST to the last completion.
 * Rounds alternate the order (this machine is noisy); ratios compare runs of the same round.
 * Each run's CPU seconds are counted too (bare: xargs and every ffmpeg; service: the worker and
 * its ffmpeg children, Redis, and this process, which holds the API and the client): on a
 * machine shared with other work, wall time measures the neighbours as much as the run.
 * With BENCH_BASELINE_DIST (another build's dist/: bench/baseline-dist.sh <commit> makes one) each
 * round also runs the whole service of that build (its API, worker and client), so this tree and
 * the baseline are compared in the same run, on the same load, job for job.
 * Before that, once: rubberband's two pitch modes at +4, +12 and -4 semitones (CPU seconds of
 * one ffmpeg per clip, and the level of the band above Nyquist/R that an upward shift by R should
 * fill), with `--pitchq` choosing the bare run's mode (default `quality`, the service's choice
 * for upward shifts).
 *   [BENCH_BASELINE_DIST=dir] node dist/bench/pitch-vs-bare.js [jobs=40] [rounds=3] [--pitchq speed|quality] [--no-modes] [--unpinned]
 */
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const JOBS = Number(args[0] ?? 40);
const ROUNDS = Number(args[1] ?? 3);
const pitchqAt = process.argv.indexOf('--pitchq');
const PITCHQ = pitchqAt > 0 ? process.argv[pitchqAt + 1] : 'quality';
const SEMITONES = 4;
const RATIO = 2 ** (SEMITONES / 12);
const cores = os.availableParallelism();
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-pitch-bench-'));
const input = path.join(dir, 'speech-30s-stereo.wav');
// biome-ignore format: flag/value pairs
execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '-1', '-i', humanSpeech(4),
  '-t', '30', '-ac', '2', '-ar', '44100', '-c:a', 'pcm_s16le', input]);
const audioSec = 30 * JOBS;

/** The plain command a person would write for this output. */
function bareArgs(inFile: string, outFile: string, pitchq: string, ratio = RATIO): string[] {
  const chain = `aformat=channel_layouts=mono:sample_rates=44100,rubberband=pitch=${ratio.toFixed(6)}:formant=preserved:pitchq=${pitchq}`;
  // biome-ignore format: flag/value pairs
  return ['-nostdin', '-v', 'error', '-y', '-i', inFile, '-af', chain, '-c:a', 'libmp3lame', '-q:a', '2', outFile];
}

/** User + system CPU seconds of one command, from /usr/bin/time. */
function cpuSeconds(cmd: string[]): number {
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S', ...cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.status !== 0) throw new Error(`${cmd.join(' ')}: ${run.stderr}`);
  const [u, s] = run.stderr.toString().trim().split('\n').at(-1)?.split(' ').map(Number) ?? [Number.NaN, 0];
  return u + s;
}

interface Run {
  seconds: number;
  /** CPU seconds (user + system) of every process doing the work. */
  cpu: number;
}

async function bare(round: number): Promise<Run> {
  const outDir = path.join(dir, `bare-${round}`);
  await mkdir(outDir, { recursive: true });
  const list = path.join(dir, `bare-${round}.txt`);
  await writeFile(list, Array.from({ length: JOBS }, (_, i) => path.join(outDir, `${i}.mp3`)).join('\n'));
  const script = `ffmpeg ${bareArgs(input, '"$0"', PITCHQ)
    .map((a) => (a === '"$0"' ? a : `'${a}'`))
    .join(' ')}`;
  const t0 = performance.now();
  // GNU time reports xargs with every ffmpeg it waited for.
  const cpu = await new Promise<number>((resolve, reject) => {
    const xargs = spawn(
      '/usr/bin/time',
      ['-f', '%U %S', 'xargs', '-a', list, '-P', String(cores), '-n', '1', 'sh', '-c', script],
      { stdio: ['ignore', 'inherit', 'pipe'] },
    );
    let err = '';
    xargs.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    xargs.on('exit', (code) => {
      const [u, s] = err.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
      if (code === 0) resolve(u + s);
      else reject(new Error(`xargs exit ${code}: ${err}`));
    });
  });
  return { seconds: (performance.now() - t0) / 1000, cpu };
}

/**
 * CPU seconds so far of the worker, the ffmpeg processes it started, Redis and this process (API
 * and client). ffmpeg counts once reaped: by the worker, or by the launcher process a pool thread
 * starts ffmpeg from (workers/tasks/launcher.ts), which lives as long as the thread, so its own
 * CPU and its reaped children's are read from it directly.
 */
function serviceCpu(svc: TestService): number[] {
  const pid = svc.workers[0].process.pid ?? 0;
  const worker = processCpu(pid);
  const launchers = childPids(pid).map(processCpu);
  const redis = processCpu(svc.redis.process.pid ?? 0);
  const self = process.cpuUsage();
  return [
    worker.own + launchers.reduce((n, l) => n + l.own, 0),
    worker.children + launchers.reduce((n, l) => n + l.children, 0),
    redis.own,
    (self.user + self.system) / 1e6,
  ];
}

/** A build's service and client: this tree's, or the baseline's (BENCH_BASELINE_DIST). */
interface Stack {
  label: string;
  startService: typeof startService;
  ApiClient: typeof ApiClient;
}

async function service(stack: Stack): Promise<Run & { sample: Uint8Array }> {
  const env = process.argv.includes('--unpinned') ? { PIN_THREADS: 'false' } : undefined;
  const svc = await stack.startService({ workers: 1, env });
  try {
    const client = await stack.ApiClient.anonymous(svc.baseUrl);
    await svc.workers[0].ready;
    const up = await client.upload(input);
    if (up.status !== 201) throw new Error(`upload ${up.status}`);
    const events = await client.openEvents();
    const cpu0 = serviceCpu(svc);
    const t0 = performance.now();
    const jobs = [];
    for (let i = 0; i < JOBS; i++)
      jobs.push(
        await client.createJob({
          uploadId: up.body.upload.id,
          outputFormat: 'mp3',
          pitchSemitones: SEMITONES,
        }),
      );
    // Completion comes over the WebSocket, as a client would watch it: polling every job's
    // state would spend more CPU in the API than the service itself adds.
    for (const j of jobs) {
      const end = await events.waitFor(
        (m) => m.jobId === j.id && ['completed', 'failed', 'cancelled'].includes(m.type),
        3_600_000,
      );
      if (end.type !== 'completed') throw new Error(`job ${j.id} ${end.type}`);
    }
    events.close();
    const seconds = (performance.now() - t0) / 1000;
    const parts = serviceCpu(svc).map((x, i) => x - cpu0[i]);
    const [worker, ffmpeg, redis, api] = parts.map((x) => x.toFixed(1));
    console.log(
      `${stack.label} CPU: worker (and launchers) ${worker} s, its ffmpeg children ${ffmpeg} s, Redis ${redis} s, API + client ${api} s`,
    );
    const cpu = parts.reduce((a, x) => a + x, 0);
    return { seconds, cpu, sample: (await client.download(jobs[0].id)).bytes };
  } finally {
    await svc.close();
  }
}

// 1. rubberband's pitch modes, one ffmpeg per clip, run alone: the CPU it takes, and for an upward
// shift by R how much is left in the output above Nyquist/R (up to 20 kHz) next to what the input
// had in the band that lands there.
for (const semitones of process.argv.includes('--no-modes') ? [] : [SEMITONES, 12, -4]) {
  const r = 2 ** (semitones / 12);
  const [lo, hi] = [22050 / r, 20_000];
  const kHz = (f: number) => (f / 1000).toFixed(1);
  if (r > 1) {
    const level = highBandDb(decodePcm(input, 44100), 44100, lo / r, Math.min(hi / r, 22050));
    console.log(
      `${semitones > 0 ? '+' : ''}${semitones} st: input level of ${kHz(lo / r)}-${kHz(hi / r)} kHz ${level.toFixed(1)} dB`,
    );
  }
  for (const q of ['speed', 'quality']) {
    const out = path.join(dir, `mode-${q}.mp3`);
    const cmd = ['ffmpeg', ...bareArgs(input, out, q, r)];
    const cpu = [0, 1, 2].map(() => cpuSeconds(cmd)).sort((a, b) => a - b)[1];
    const band =
      r > 1
        ? `; output level of ${kHz(lo)}-${kHz(hi)} kHz ${highBandDb(decodePcm(out, 44100), 44100, lo, hi).toFixed(1)} dB`
        : '';
    console.log(`  pitchq=${q.padEnd(8)} CPU ${cpu.toFixed(2)} s per 30 s clip (median of 3)${band}`);
  }
}

// 2. Throughput, bare vs service (and the baseline build's service).
const stacks: Stack[] = [{ label: 'service', startService, ApiClient }];
if (BASELINE_DIST) {
  const dist = path.resolve(BASELINE_DIST);
  const svcModule = (await import(path.join(dist, 'test/helpers/service.js'))) as {
    startService: typeof startService;
  };
  const clientModule = (await import(path.join(dist, 'test/helpers/client.js'))) as {
    ApiClient: typeof ApiClient;
  };
  stacks.push({
    label: 'baseline service',
    startService: svcModule.startService,
    ApiClient: clientModule.ApiClient,
  });
  console.log(`baseline: ${dist}`);
}
console.log(
  `${JOBS} pitch-only jobs (30 s, 44.1 kHz stereo → +${SEMITONES} st → 44.1 kHz mono mp3), ${cores} cores, ` +
    `${ROUNDS} rounds, bare pitchq=${PITCHQ}`,
);
const line = (label: string, s: number, ratio: string) =>
  console.log(
    `${label.padEnd(34)} ${s.toFixed(1).padStart(7)} s   ${(audioSec / s).toFixed(1).padStart(6)}x real time   ${ratio}`,
  );
const ratios = stacks.map(() => [] as number[]);
const cpuRatios = stacks.map(() => [] as number[]);
const extraMs = stacks.map(() => [] as number[]);
/** Same decoded output as the bare command (the service must not make a cheaper one). */
function compare(label: string, sample: Uint8Array, mine: string): Promise<void> {
  return writeFile(mine, sample).then(() => {
    const a = decodePcm(mine, 44100);
    const ref = decodePcm(path.join(dir, 'bare-0', '0.mp3'), 44100);
    let maxDiff = 0;
    for (let i = 0; i < Math.min(a.length, ref.length); i++)
      maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref[i]));
    console.log(
      `same output: ${label} ${a.length} samples, bare ${ref.length}; largest sample difference ${maxDiff.toExponential(2)}`,
    );
  });
}
for (let r = 0; r < ROUNDS; r++) {
  // Each round starts with another of the runs (bare, this tree, the baseline), so none always runs first.
  const order = [-1, ...stacks.keys()];
  const rotated = [...order.slice(r % order.length), ...order.slice(0, r % order.length)];
  let b: Run | undefined;
  const runs: (Run & { sample: Uint8Array })[] = [];
  for (const i of rotated) {
    if (i < 0) b = await bare(r);
    else runs[i] = await service(stacks[i]);
  }
  if (!b) throw new Error('no bare run');
  line(`round ${r + 1}: bare ffmpeg`, b.seconds, `ratio 1.000   CPU ${b.cpu.toFixed(1)} s`);
  for (const [i, s] of runs.entries()) {
    ratios[i].push(b.seconds / s.seconds);
    cpuRatios[i].push(b.cpu / s.cpu);
    extraMs[i].push(((s.cpu - b.cpu) / JOBS) * 1000);
    line(
      `round ${r + 1}: ${stacks[i].label}`,
      s.seconds,
      `ratio ${(b.seconds / s.seconds).toFixed(3)}   CPU ${s.cpu.toFixed(1)} s (bare/service ${(b.cpu / s.cpu).toFixed(3)}, ` +
        `${(((s.cpu - b.cpu) / JOBS) * 1000).toFixed(0)} ms more per job)`,
    );
    if (r === 0) await compare(stacks[i].label, s.sample, path.join(dir, `sample-${i}.mp3`));
  }
}
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
for (const [i, stack] of stacks.entries())
  console.log(
    `mean ratio ${stack.label} / bare: throughput ${mean(ratios[i]).toFixed(3)}, CPU per job ${mean(cpuRatios[i]).toFixed(3)} ` +
      `(${mean(extraMs[i]).toFixed(0)} ms more CPU per job)`,
  );
if (stacks.length > 1)
  console.log(
    `this tree / baseline: throughput ${(mean(ratios[0]) / mean(ratios[1])).toFixed(3)}, ` +
      `CPU per job ${(mean(cpuRatios[0]) / mean(cpuRatios[1])).toFixed(3)}`,
  );
await rm(dir, { recursive: true, force: true });
