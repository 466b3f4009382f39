import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';
import { runConversion } from '../workers/tasks/convert.js';
import { TaskControl } from '../workers/tasks/task-types.js';
import { runVoiceConversion } from '../workers/tasks/voice-conversion.js';

/**
 * The whole pipeline on one thread (issue 3): decode → model (2 passes) → mp3 encode, for 10 s,
 * 60 s and 600 s of real speech, against the same inputs through decode → mp3 only (the
 * baseline of this run); model session creation time; RSS growth over a long input.
 *   node dist/bench/pipeline.js [--hour]     (--hour adds a 1-hour input for the memory check)
 */
const modelDir = fileURLToPath(new URL('../../models/default/', import.meta.url));
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-pipeline-'));
const lengths = [10, 60, 600, ...(process.argv.includes('--hour') ? [3600] : [])];

const t0 = performance.now();
const engine = await VoiceConversionEngine.load(modelDir);
const sessions = Object.keys(engine.manifest.graphs).length;
console.log(`model load (${sessions} sessions + manifest check): ${(performance.now() - t0).toFixed(0)} ms`);
await engine.close();

const base = humanSpeech(4);
for (const sec of lengths) {
  const input = path.join(dir, `in-${sec}.wav`);
  // Loop the ~30 s of real speech up to the length.
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
    input,
  ]);
  const task = (voice: boolean) => ({
    kind: 'convert' as const,
    jobId: `bench-${sec}`,
    attempt: 1,
    inputPath: input,
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
  const plain = performance.now();
  const p = await runConversion(task(false));
  const plainS = (performance.now() - plain) / 1000;
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 200);
  const v0 = performance.now();
  const v = await runVoiceConversion(task(true));
  const voiceS = (performance.now() - v0) / 1000;
  clearInterval(sampler);
  if (p.status !== 'completed' || v.status !== 'completed') throw new Error(JSON.stringify({ p, v }));
  console.log(
    `${String(sec).padStart(5)} s: voice conversion ${(sec / voiceS).toFixed(1)}x real time (${voiceS.toFixed(1)} s); ` +
      `decode → mp3 only ${(sec / plainS).toFixed(1)}x; ratio ${(plainS / voiceS).toFixed(3)}; ` +
      `RSS ${(rssBefore / 2 ** 20).toFixed(0)} → peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB (+${((rssPeak - rssBefore) / 2 ** 20).toFixed(0)})`,
  );
}
await rm(dir, { recursive: true, force: true });
