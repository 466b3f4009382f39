import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';
import { pinCurrentThread } from '../workers/pool/cpu-affinity.js';
import { allowedCores } from '../workers/pool/index.js';
import { runConversion } from '../workers/tasks/convert.js';
import { TaskControl, type TaskOutcome } from '../workers/tasks/task-types.js';
import { runVoiceConversion } from '../workers/tasks/voice-conversion.js';

/**
 * The whole pipeline on one thread (issue 3): decode → model (2 passes) → mp3 encode, for 10 s,
 * 60 s and 600 s of real speech, against the same inputs through decode → mp3 only (the
 * baseline of this run); model session creation time; RSS growth over a long input. The thread
 * is pinned to one core first, so its ffmpeg children share that core: figures are per core.
 * The input is an s16 WAV (48 kHz, or `--rate N`), read in-process where the worker would
 * (issue 10: at the model's rate always, resampled up to 30 s at 48 kHz); the same samples in a
 * WAV whose data length is left open (as a streaming writer leaves it) go through the ffmpeg
 * decoder instead, which measures what the in-process reader saves, in the same run.
 *   node dist/bench/pipeline.js [--hour] [--rate N]   (--hour adds a 1-hour input for the memory check)
 */
const pin = pinCurrentThread(allowedCores().at(-1) ?? 0);
console.log(pin.error ? `not pinned: ${pin.error}` : `pinned to core ${pin.core} (ffmpeg children too)`);
const modelDir = fileURLToPath(new URL('../../models/default/', import.meta.url));
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-pipeline-'));
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const lengths = [10, 60, 600, ...(process.argv.includes('--hour') ? [3600] : [])];

const t0 = performance.now();
const engine = await VoiceConversionEngine.load(modelDir);
const sessions = Object.keys(engine.manifest.graphs).length;
console.log(`model load (${sessions} sessions + manifest check): ${(performance.now() - t0).toFixed(0)} ms`);
await engine.close();

const base = humanSpeech(4);
const rateAt = process.argv.indexOf('--rate');
const rate = rateAt > 0 ? Number(process.argv[rateAt + 1]) : 48_000;
/** A WAV of `sec` seconds: the ~35 s of real speech looped. */
function input(sec: number): string {
  const file = path.join(dir, `in-${sec}.wav`);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-stream_loop',
    '-1',
    '-i',
    base,
    '-t',
    String(sec),
    '-ac',
    '1',
    '-ar',
    String(rate),
    file,
  ]);
  return file;
}
/** The same WAV with its data length set to "unknown": the in-process reader leaves it to ffmpeg. */
function viaFfmpeg(file: string): string {
  const bytes = readFileSync(file);
  const at = bytes.indexOf('data', 12, 'latin1');
  bytes.writeUInt32LE(0xffffffff, at + 4);
  const out = file.replace(/\.wav$/, '-open.wav');
  writeFileSync(out, bytes);
  return out;
}
const task = (file: string, sec: number, voice: boolean) => ({
  kind: 'convert' as const,
  jobId: `bench-${sec}`,
  attempt: 1,
  inputPath: file,
  demuxer: 'wav',
  outputPath: path.join(dir, `out-${sec}-${voice}.mp3`),
  outputFormat: 'mp3' as const,
  pitchSemitones: 0,
  durationSec: sec,
  maxDurationSec: 7200,
  control: new TaskControl().buffer,
  voice: voice
    ? { modelDir, profilePath: path.join(modelDir, 'voices', 'espeak-f3.json'), strength: 1 }
    : undefined,
});
/**
 * CPU seconds used so far by this process (every thread) and its reaped children (the ffmpegs):
 * on a loaded machine a job's CPU time says more about capacity than its wall time.
 */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat (cutime, cstime), counted from the state field (3): indexes 13, 14.
  const children = (Number(fields[13]) + Number(fields[14])) / 100;
  return (own.user + own.system) / 1e6 + children;
}
/** Waits until every child (ffmpeg) is reaped, so its CPU time is in cutime/cstime. */
async function childrenReaped(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const tasks = readdirSync('/proc/self/task');
    const left = tasks.some((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim() !== '');
    if (!left) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}
const cpu: number[] = [];
async function seconds(run: () => Promise<TaskOutcome>): Promise<number> {
  const t = performance.now();
  const c = cpuSeconds();
  const outcome = await run();
  if (outcome.status !== 'completed') throw new Error(JSON.stringify(outcome));
  const wall = (performance.now() - t) / 1000;
  await childrenReaped();
  cpu.push(cpuSeconds() - c);
  return wall;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// A pool thread loads the model on its first job and keeps it: report that first job apart.
const first = input(10);
const cold = await seconds(() => runVoiceConversion(task(first, 10, true)));
console.log(
  `first 10 s job of a thread (loads the model): ${(10 / cold).toFixed(1)}x real time (${cold.toFixed(2)} s)`,
);

for (const sec of lengths) {
  const file = input(sec);
  const open = viaFfmpeg(file);
  const runs = sec <= 10 ? 7 : sec <= 60 ? 5 : 1;
  const plain: number[] = [];
  const voice: number[] = [];
  const voiceFfmpeg: number[] = [];
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 200);
  const voiceCpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    plain.push(await seconds(() => runConversion(task(file, sec, false))));
    voice.push(await seconds(() => runVoiceConversion(task(file, sec, true))));
    voiceCpu.push(cpu.at(-1) ?? 0);
    voiceFfmpeg.push(await seconds(() => runVoiceConversion(task(open, sec, true))));
  }
  clearInterval(sampler);
  const p = median(plain);
  const v = median(voice);
  const vf = median(voiceFfmpeg);
  console.log(
    `${String(sec).padStart(5)} s (median of ${runs}): voice conversion ${(sec / v).toFixed(1)}x real time (${v.toFixed(2)} s); ` +
      `decoded by ffmpeg instead ${(sec / vf).toFixed(1)}x (in-process / ffmpeg time ${(v / vf).toFixed(3)}); ` +
      `decode → mp3 only ${(sec / p).toFixed(1)}x; ratio ${(p / v).toFixed(3)}; ` +
      `RSS ${mib(rssBefore)} → peak ${mib(rssPeak)} (+${mib(rssPeak - rssBefore)}); ` +
      `CPU time per voice job ${median(voiceCpu).toFixed(2)} s (${(sec / median(voiceCpu)).toFixed(1)}x real time per CPU-second, ` +
      `${(60 / median(voiceCpu)).toFixed(1)} jobs/min per core)`,
  );
}
await rm(dir, { recursive: true, force: true });
// This thread's ffmpeg launcher (workers/tasks/launcher.ts) lives as long as the thread, as in a pool
// thread; the bench's thread is the process, so it ends it (the launcher then sees its stdin close).
process.exit(0);
