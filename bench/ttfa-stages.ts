import { readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { humanSpeech } from '../test/helpers/fixtures.js';
import {
  parseVoiceProfile,
  SOURCE_ANALYSIS_SECONDS,
  VoiceConversionEngine,
} from '../workers/engine/index.js';
import { pinCurrentThread } from '../workers/pool/cpu-affinity.js';
import { allowedCores } from '../workers/pool/index.js';
import { EncodedOutput } from '../workers/tasks/encoded-output.js';
import { partialOutputPath } from '../workers/tasks/partial-output.js';
import { PcmHead } from '../workers/tasks/pcm-head.js';
import { pcmReaderFor } from '../workers/tasks/pcm-input.js';
import { TaskControl } from '../workers/tasks/task-types.js';

/**
 * Where a voice job's time to first audio goes (issue 16): the pool task's steps in one pinned
 * thread, timestamped from the task's start, for each model folder given (alternated, so every
 * model sees the same load): model load (a pool thread's first job pays it), the read of the
 * source's first SOURCE_ANALYSIS_SECONDS, its analysis, the conversion's first output block (what
 * the model holds back before releasing any), and the encoder's first bytes on disk (mp3, with
 * how much audio the encoder had been given by then, and the CPU time this process had spent: on a
 * loaded machine that, not the wall time, says what an idle core would take; ffmpeg's not counted).
 *   node dist/bench/ttfa-stages.js [MINUTES=10] [RUNS=3] MODEL_DIR...
 */
const MINUTES = Number(process.argv[2] ?? 10);
const RUNS = Number(process.argv[3] ?? 3);
const DEFAULT_MODEL = fileURLToPath(new URL('../../models/default/', import.meta.url));
const MODELS = process.argv.slice(4).length > 0 ? process.argv.slice(4) : [DEFAULT_MODEL];
const VOICE = fileURLToPath(new URL('../../models/default/voices/espeak-m3.json', import.meta.url));

const core = allowedCores().at(-1) ?? 0;
const pin = pinCurrentThread(core);
console.log(pin.error ? `not pinned: ${pin.error}` : `pinned to core ${pin.core}`);

const input = humanSpeech(Math.ceil((MINUTES * 60) / 8.66));
const voice = parseVoiceProfile(JSON.parse(await readFile(VOICE, 'utf8')));
const out = path.join(os.tmpdir(), `vcfarm-ttfa-stages-${process.pid}.mp3`);

async function firstBytes(file: string, feed: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (
      (await stat(file).then(
        (s) => s.size,
        () => 0,
      )) > 0
    )
      return;
    if (!(await feed())) await new Promise((r) => setTimeout(r, 5));
  }
}

async function run(modelDir: string): Promise<Record<string, number>> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const marks: Record<string, number> = {};
  // Wall seconds since the start, and this process's CPU seconds by then (what an idle core would take).
  const at = (): number => {
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
    return (performance.now() - t0) / 1000;
  };
  const cpu: number[] = [];
  const engine = await VoiceConversionEngine.load(modelDir);
  marks.load = at();
  marks.cpuLoad = cpu.at(-1) ?? Number.NaN;
  const rate = engine.sampleRate;
  const control = new TaskControl();
  const decode = await pcmReaderFor({
    inputPath: input,
    demuxer: 'wav',
    sampleRate: rate,
    maxDurationSec: 7200,
    control,
  });
  const head = await PcmHead.read(decode(), SOURCE_ANALYSIS_SECONDS * rate);
  marks.read = at();
  const source = await engine.analyse(head.blocks, { label: 'source', seconds: SOURCE_ANALYSIS_SECONDS });
  marks.analysed = at();
  const output = await EncodedOutput.open({ outputPath: out, attempt: 1, outputFormat: 'mp3' }, rate);
  const blocks = engine.convert(head.all(), { voice, sourceProfile: source })[Symbol.asyncIterator]();
  let fed = 0;
  const feed = async (): Promise<boolean> => {
    const next = await blocks.next();
    if (next.done) return false;
    fed += next.value.length;
    await output.write(next.value);
    if (marks.firstBlock === undefined) {
      marks.firstBlock = at();
      marks.heldSec = fed / rate;
    }
    return true;
  };
  try {
    while (marks.firstBlock === undefined) if (!(await feed())) break;
    await firstBytes(partialOutputPath(out, 1), feed);
    marks.firstBytes = at();
    marks.bytesSec = fed / rate;
  } finally {
    await blocks.return?.(undefined);
    await output.abort();
    await head.close();
    await engine.close();
  }
  marks.cpuFirstBytes = cpu.at(-1) ?? Number.NaN;
  return marks;
}

const rows: { model: string; marks: Record<string, number> }[] = [];
await run(MODELS[0]); // warm-up: page cache, ORT's first-use costs
for (let r = 0; r < RUNS; r++) {
  for (const model of MODELS) {
    const marks = await run(model);
    rows.push({ model, marks });
    const f = (k: string) => (marks[k] ?? Number.NaN).toFixed(2).padStart(6);
    console.log(
      `${path.basename(path.resolve(model)).padEnd(14)} load ${f('load')}  read ${f('read')}  analysed ${f('analysed')}` +
        `  first block ${f('firstBlock')} (${f('heldSec')} s of audio)  first mp3 bytes ${f('firstBytes')} (${f('bytesSec')} s given; CPU ${f('cpuFirstBytes')}, of which the model load ${f('cpuLoad')})  (s from start; load ${os.loadavg()[0].toFixed(1)})`,
    );
  }
}
await rm(out, { force: true });
