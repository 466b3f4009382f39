import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { decodeFile } from '../test/helpers/audio-io.js';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { parseVoiceProfile, VoiceConversionEngine } from '../workers/engine/index.js';
import { pinCurrentThread } from '../workers/pool/cpu-affinity.js';
import { allowedCores } from '../workers/pool/index.js';

/**
 * The engine alone on one pinned thread (issue 3): seconds of real speech converted per second
 * of wall time (ORT runs single-threaded per session), per pass and for a whole conversion (both
 * passes the pool task runs: analyse the source, then convert), for 10 s, 60 s and 600 s
 * inputs; median of several runs after a warm-up. CPU time is printed too: on a shared machine
 * it moves less than wall time. Also: model load (session creation) time and RSS it adds.
 *   node dist/bench/engine.js [MODEL_DIR] [SECONDS,...]
 * SECONDS (e.g. 60) measures only those of the lengths below, for A/B runs on a loaded machine.
 */
const MODEL_DIR = process.argv[2] ?? fileURLToPath(new URL('../../models/default/', import.meta.url));
const VOICES = fileURLToPath(new URL('../../models/default/voices/', import.meta.url));
const ALL_LENGTHS = [
  { seconds: 10, runs: 7 },
  { seconds: 60, runs: 5 },
  { seconds: 600, runs: 3 },
];
const only = process.argv[3]?.split(',').map(Number);
const LENGTHS = only ? ALL_LENGTHS.filter((l) => only.includes(l.seconds)) : ALL_LENGTHS;
const BLOCK = 4096;

const core = allowedCores().at(-1) ?? 0;
const pin = pinCurrentThread(core);
console.log(pin.error ? `not pinned: ${pin.error}` : `pinned to core ${pin.core}`);

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const rss0 = process.memoryUsage.rss();
const t0 = performance.now();
const engine = await VoiceConversionEngine.load(MODEL_DIR);
const loadMs = performance.now() - t0;
const sessions = Object.keys(engine.manifest.graphs).length;
console.log(
  `model load: ${loadMs.toFixed(0)} ms for ${sessions} sessions + manifest check; RSS +${mib(process.memoryUsage.rss() - rss0)}`,
);

const voice = parseVoiceProfile(JSON.parse(await readFile(`${VOICES}espeak-m3.json`, 'utf8')));
const speech = await decodeFile(humanSpeech(4), { sampleRate: engine.sampleRate });

function looped(seconds: number): Float32Array {
  const out = new Float32Array(seconds * engine.sampleRate);
  for (let i = 0; i < out.length; i += speech.length) out.set(speech.subarray(0, out.length - i), i);
  return out;
}
function* blocks(pcm: Float32Array): Generator<Float32Array> {
  for (let i = 0; i < pcm.length; i += BLOCK) yield pcm.slice(i, i + BLOCK);
}

interface Timing {
  wall: number;
  cpu: number;
}
async function timed(job: () => Promise<unknown>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await job();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - w0) / 1000, cpu: (c.user + c.system) / 1e6 };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(pcm: Float32Array) {
  let source = voice;
  const analyse = await timed(async () => {
    source = await engine.analyse(blocks(pcm));
  });
  const convert = await timed(async () => {
    for await (const _ of engine.convert(blocks(pcm), { voice, sourceProfile: source })) {
      // drain
    }
  });
  return { analyse, convert, whole: { wall: analyse.wall + convert.wall, cpu: analyse.cpu + convert.cpu } };
}

await measure(looped(10));
for (const { seconds, runs } of LENGTHS) {
  const pcm = looped(seconds);
  const rssBefore = process.memoryUsage.rss();
  const results: Awaited<ReturnType<typeof measure>>[] = [];
  for (let r = 0; r < runs; r++) results.push(await measure(pcm));
  const rate = (k: 'analyse' | 'convert' | 'whole', f: 'wall' | 'cpu') =>
    (seconds / median(results.map((x) => x[k][f]))).toFixed(1);
  console.log(
    `${String(seconds).padStart(4)} s (median of ${runs}): conversion ${rate('whole', 'wall')}x real time ` +
      `(CPU ${rate('whole', 'cpu')}x); analyse ${rate('analyse', 'wall')}x, convert ${rate('convert', 'wall')}x; ` +
      `RSS ${mib(process.memoryUsage.rss())} (+${mib(process.memoryUsage.rss() - rssBefore)} incl. the input)`,
  );
}
await engine.close();
