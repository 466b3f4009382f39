import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InferenceSession } from 'onnxruntime-node';
import {
  parseVoiceProfile,
  pitchMapFor,
  pitchRatioFor,
  SOURCE_ANALYSIS_SECONDS,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../../workers/engine/index.js';
import { blocks, concat, loadSpeech } from '../helpers/audio-io.js';
import { allFinite, peakDbfs } from '../helpers/audio-metrics.js';
import { convertAll, convertWhole } from '../helpers/engine-converter.js';

const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
let engine: VoiceConversionEngine;
let work: string;
let speech: Record<string, Float32Array>;
let voice: VoiceProfile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-robust-'));
  engine = await VoiceConversionEngine.load(MODEL_DIR);
  speech = await loadSpeech(work, engine.sampleRate, ['en-us+f3']);
  const { readFile } = await import('node:fs/promises');
  voice = parseVoiceProfile(JSON.parse(await readFile(join(MODEL_DIR, 'voices', 'espeak-m3.json'), 'utf8')));
});
after(async () => {
  await engine?.close();
  await rm(work, { recursive: true, force: true });
});

test('chunked output equals whole-file output (speech, pitch shift and timbre on)', async () => {
  const src = speech.alsa;
  const sourceProfile = await engine.analyse(blocks(src));
  const options = { voice, sourceProfile, strength: 1 };
  const chunked = await convertAll(engine, src, options, [1, 5000, 333, 65536]);
  const whole = await convertWhole(engine, src, options);
  assert.equal(chunked.length, src.length);
  assert.equal(whole.length, src.length);
  const maxDiff = chunked.reduce((m, v, i) => Math.max(m, Math.abs(v - whole[i])), 0);
  console.log(`# chunked vs whole-file max |diff| = ${maxDiff}`);
  assert.ok(maxDiff <= 1e-4, `max difference ${maxDiff}`);
});

test('input longer than the in-pass measurement: output independent of chunk size', async () => {
  // The default model measures the shifted and the input envelope over the first 10 s (the EQ's span),
  // holding windows until then: the measurement completes mid-stream, at different windows per chunk
  // size; 40 s is also past the source analysis' 30 s.
  const span = engine.manifest.graphs.eq.inputs.flatMap((i) =>
    i.source.from === 'analysis' ? [i.source.seconds] : [],
  );
  assert.ok(span.length === 2 && span.every((s) => s < 40), `in-pass spans ${span}`);
  const base = speech.alsa;
  const repeats = Math.ceil((40 * engine.sampleRate) / base.length);
  const src = new Float32Array(base.length * repeats);
  for (let i = 0; i < repeats; i++) src.set(base, i * base.length);
  // The source's statistics as the pool task takes them: from its first SOURCE_ANALYSIS_SECONDS.
  const sourceProfile = await engine.analyse(blocks(src), { seconds: SOURCE_ANALYSIS_SECONDS });
  const options = { voice, sourceProfile, strength: 1 };
  const a = await convertAll(engine, src, options, [4096, 100_000, 7]);
  const b = await convertAll(engine, src, { ...options, chunkSamples: 16384 }, [65536]);
  assert.equal(a.length, src.length);
  assert.equal(b.length, src.length);
  assert.ok(allFinite(a));
  const maxDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  console.log(
    `# ${(src.length / engine.sampleRate).toFixed(0)} s, chunk 65536 vs 16384: max |diff| = ${maxDiff}`,
  );
  assert.ok(maxDiff <= 1e-4, `max difference ${maxDiff}`);
});

test('a converter releases output once the EQ span is converted, long before the stream ends', async () => {
  const base = speech.alsa;
  const src = new Float32Array(40 * engine.sampleRate);
  for (let i = 0; i < src.length; i += base.length) src.set(base.subarray(0, src.length - i), i);
  const sourceProfile = await engine.analyse(blocks(src), { seconds: SOURCE_ANALYSIS_SECONDS });
  const converter = engine.createConverter({ voice, sourceProfile, strength: 1 });
  const m = engine.manifest;
  const span = Math.max(
    ...m.graphs.eq.inputs.flatMap((i) => (i.source.from === 'analysis' ? [i.source.seconds] : [])),
  );
  // 1. Push 4096-sample blocks until the first output comes back.
  let pushed = 0;
  let released = 0;
  for (const b of blocks(src, [4096])) {
    pushed += b.length;
    released = (await converter.push(b)).reduce((n, x) => n + x.length, 0);
    if (released > 0) break;
  }
  // 2. It came once the span's windows (and the look-ahead) had arrived: a quarter of this input.
  const windows = Math.ceil((span * m.sampleRate) / m.chunkSamples);
  const bound = windows * m.chunkSamples + m.context.right + 4096;
  assert.ok(released >= span * m.sampleRate, `released ${released} samples at once`);
  assert.ok(pushed <= bound, `first output after ${pushed} samples pushed (bound ${bound})`);
  assert.ok(pushed < src.length / 3, `first output after ${pushed} of ${src.length} samples`);
  await converter.flush();
});

test("convert() gives a converter's samples exactly, and the first block as soon as the output level is known", async () => {
  // The pool task streams through convert(): the first block after the in-pass measurement goes to the encoder
  // as soon as it can, and the audio must not change. The default model's level stage measures the EQ's output
  // over the EQ's span, so the held windows all go through the EQ before the first block (the EQ is the cheap
  // graph: 20-50 ms more to the first block of a 30 s input than when the level was measured before it).
  const base = speech.alsa;
  const src = new Float32Array(24 * engine.sampleRate);
  for (let i = 0; i < src.length; i += base.length) src.set(base.subarray(0, src.length - i), i);
  const sourceProfile = await engine.analyse(blocks(src), { seconds: SOURCE_ANALYSIS_SECONDS });
  const options = { voice, sourceProfile, strength: 1 };
  const sizes = [4096, 100_000, 7];
  // Model runs counted on the real sessions: how much was converted when the first audio came out.
  // The class ORT's sessions are made of (typed as its factory).
  const proto = (InferenceSession as unknown as { prototype: InferenceSession }).prototype;
  const run = proto.run;
  let runs = 0;
  proto.run = function (this: InferenceSession, ...args: Parameters<typeof run>) {
    runs++;
    return run.apply(this, args);
  } as typeof run;
  const streamed: Float32Array[] = [];
  let runsAtFirst = 0;
  let runsAtFirstPush = 0;
  let converted: Float32Array;
  try {
    for await (const b of engine.convert(blocks(src, sizes), options)) {
      if (streamed.length === 0) runsAtFirst = runs;
      streamed.push(b);
    }
    runs = 0;
    const converter = engine.createConverter(options);
    const out: Float32Array[] = [];
    for (const b of blocks(src, sizes)) {
      const got = await converter.push(b);
      if (out.length === 0 && got.length > 0) runsAtFirstPush = runs;
      out.push(...got);
    }
    out.push(...(await converter.flush()));
    converted = concat(out);
  } finally {
    proto.run = run;
  }
  const joined = concat(streamed);
  assert.equal(joined.length, converted.length);
  assert.ok(
    joined.every((v, i) => Object.is(v, converted[i])),
    'convert() and a converter give the same samples',
  );
  // The converter's push converts every held window before it returns; so does convert() here, as the level
  // stage needs the EQ's output of all of them (a level measured before the EQ let convert() yield after the
  // first: held - 1 runs fewer). Both ran the shift graph on every held window and the EQ on every one.
  const m = engine.manifest;
  const held = Math.ceil((10 * m.sampleRate) / m.chunkSamples);
  assert.ok(held > 1, `${held} windows held`);
  assert.equal(m.conversion.loudness?.graph, 'eq', 'the level is measured on the EQ output');
  assert.equal(
    runsAtFirst,
    runsAtFirstPush,
    `model runs at the first block: convert() ${runsAtFirst}, a converter's push ${runsAtFirstPush}`,
  );
  assert.ok(runsAtFirst >= 2 * held, `${runsAtFirst} model runs for ${held} held windows`);
  const windows = Math.ceil(src.length / m.chunkSamples);
  assert.ok(streamed.length >= windows, `${streamed.length} blocks for ${windows} windows`);
});

test('analysis is the same chunked or whole', async () => {
  const src = speech['en-us+f3'];
  const a = await engine.analyse(blocks(src, [777, 12345]));
  const b = await engine.analyse([src], { chunkSamples: Math.ceil(src.length / 256) * 256 });
  assert.equal(a.f0Median, b.f0Median);
  assert.ok(a.envelope.every((v, i) => Math.abs(v - b.envelope[i]) < 1e-3));
});

test('a profile that still carries the old k-means codebook loads and converts exactly as without it', async () => {
  const src = speech['en-us+f3'].subarray(0, 3 * engine.sampleRate);
  const sourceProfile = await engine.analyse(blocks(src));
  assert.equal(sourceProfile.codebook, undefined, 'no codebook is computed any more');
  // As profiles cloned before the clean-up stored it: up to 48 entries of 24 cepstra.
  const codebook = Array.from({ length: 48 * 24 }, (_, i) => Math.sin(i) * 0.3);
  const older = parseVoiceProfile(JSON.parse(JSON.stringify({ ...voice, codebook })));
  const options = { sourceProfile, strength: 1 };
  const withIt = await convertAll(engine, src, { ...options, voice: older });
  const without = await convertAll(engine, src, { ...options, voice });
  assert.equal(withIt.length, src.length);
  assert.deepEqual(withIt, without);
});

/** `parts` one after another, each repeated until it lasts `seconds`. */
function looped(parts: [Float32Array, number][]): Float32Array {
  return concat(
    parts.map(([pcm, seconds]) => {
      const out = new Float32Array(Math.round(seconds * engine.sampleRate));
      for (let i = 0; i < out.length; i += pcm.length) out.set(pcm.subarray(0, out.length - i), i);
      return out;
    }),
  );
}

test('a bounded analysis reads exactly its first seconds, whatever the blocks, and nothing after', async () => {
  // A long input whose second part is another voice (espeak f3 after the alsa narrator): a whole-file
  // analysis sees it, the bounded one must not.
  const n = SOURCE_ANALYSIS_SECONDS;
  const src = looped([
    [speech.alsa, n + 5],
    [speech['en-us+f3'], 2 * n],
  ]);
  const head = src.subarray(0, n * engine.sampleRate);
  const exact = await engine.analyse([head]);
  const bounded = await engine.analyse(blocks(src, [777, 12345]), { seconds: n });
  assert.deepEqual(bounded, exact, 'the first n s, cut inside a block, analysed as that exact audio');
  const whole = await engine.analyse([src]);
  assert.ok(
    Math.abs(1200 * Math.log2((whole.f0Median ?? 1) / (exact.f0Median ?? 1))) > 100,
    `the rest of the input would move the median F0: ${whole.f0Median} vs ${exact.f0Median}`,
  );
  assert.ok(Math.abs(bounded.durationSeconds - n) < 0.1, `analysed ${bounded.durationSeconds} s`);
  // Nothing past the bound is read: a stream that fails after it still analyses.
  async function* failingAfter(): AsyncGenerator<Float32Array> {
    yield* blocks(head, [5000]);
    throw new Error('read past the bound');
  }
  assert.deepEqual(await engine.analyse(failingAfter(), { seconds: n }), exact);
  for (const seconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(engine.analyse([head], { seconds }), {
      name: 'EngineOptionsError',
      message: /options\.seconds/,
    });
  }
});

const n = 24_000;
const EDGE_CASES: [string, Float32Array][] = [
  ['silence', new Float32Array(n)],
  ['DC', new Float32Array(n).fill(0.5)],
  ['full-scale square', Float32Array.from({ length: n }, (_, i) => (Math.floor(i / 60) % 2 ? 1 : -1))],
  ['1 sample', Float32Array.of(0.9)],
  ['empty', new Float32Array(0)],
  [
    'NaN and Inf',
    Float32Array.from({ length: 5000 }, (_, i) =>
      i % 7 ? Math.sin(i) : i % 2 ? Number.NaN : Number.POSITIVE_INFINITY,
    ),
  ],
];

for (const [name, pcm] of EDGE_CASES) {
  test(`${name}: finite, exact length, peak <= -0.1 dBFS, analysable`, async () => {
    const sourceProfile = await engine.analyse([pcm]);
    assert.ok(sourceProfile.envelope.every(Number.isFinite));
    for (const strength of [0, 1, 2]) {
      const out = await convertAll(engine, pcm, { voice, sourceProfile, strength, semitones: 5 });
      assert.equal(out.length, pcm.length);
      assert.ok(allFinite(out), `non-finite output at strength ${strength}`);
      if (out.length > 0) assert.ok(peakDbfs(out) <= -0.1 || peakDbfs(out) === Number.NEGATIVE_INFINITY);
    }
  });
}

test('pitchRatioFor: target over source median, extra semitones, scaled by strength, clamped to two octaves', () => {
  const p = (f0Median: number | null): VoiceProfile => ({ ...voice, f0Median });
  assert.equal(pitchRatioFor(p(100), p(150)), 1.5);
  assert.ok(Math.abs(pitchRatioFor(p(100), p(100), 12) - 2) < 1e-12);
  // The case: 102 Hz -> 239 Hz used to stop at one octave (193 Hz).
  assert.ok(Math.abs(pitchRatioFor(p(102), p(239)) - 239 / 102) < 1e-12);
  assert.equal(pitchRatioFor(p(100), p(500)), 4);
  assert.equal(pitchRatioFor(p(400), p(50)), 0.25);
  assert.ok(Math.abs(pitchRatioFor(p(100), p(400), 0, 0.5) - 2) < 1e-12);
  assert.equal(pitchRatioFor(p(100), p(400), 0, 0), 1);
  assert.equal(pitchRatioFor(p(null), p(200), 0), 1);
});

test('pitchMapFor: source median and the ratio of log-F0 spreads, clamped; no statistics -> no mapping', () => {
  const p = (f0Median: number | null, f0P10: number | null, f0P90: number | null): VoiceProfile => ({
    ...voice,
    f0Median,
    f0P10,
    f0P90,
  });
  const [median, k] = pitchMapFor(p(200, 160, 250), p(100, 90, 120));
  assert.equal(median, 200);
  assert.ok(Math.abs(k - Math.log(120 / 90) / Math.log(250 / 160)) < 1e-12);
  assert.deepEqual(pitchMapFor(p(100, 99, 101), p(100, 50, 200)), [100, 1.5]);
  assert.deepEqual(pitchMapFor(p(100, 50, 200), p(100, 99, 101)), [100, 0.5]);
  assert.deepEqual(pitchMapFor(p(null, null, null), p(100, 90, 120)), [1, 1]);
  assert.deepEqual(pitchMapFor(p(100, 90, 120), p(null, null, null)), [1, 1]);
  assert.deepEqual(pitchMapFor(p(100, 99, 101), p(100, 50, 200), 0), [100, 1]);
});

test('bad options and foreign profiles are refused by name', async () => {
  assert.throws(() => engine.createConverter({ voice, strength: 3 }), {
    code: 'VC_ERR_ENGINE_OPTIONS',
    message: /options\.strength/,
  });
  assert.throws(() => engine.createConverter({ voice, params: { nope: 1 } }), {
    message: /options\.params\.nope/,
  });
  assert.throws(() => engine.createConverter({ voice, chunkSamples: 1000 }), {
    message: /options\.chunkSamples/,
  });
  assert.throws(() => engine.createConverter({ voice: { ...voice, sampleRate: 16000 } }), {
    code: 'VC_ERR_VOICE_PROFILE',
  });
  assert.throws(() => engine.createConverter({ voice: { ...voice, envelope: [1, 2] } }), {
    code: 'VC_ERR_VOICE_PROFILE',
  });
  assert.throws(() => parseVoiceProfile({ format: 'nope' }), { code: 'VC_ERR_VOICE_PROFILE' });
  // A profile cloned by the earlier model (no formants) is refused with a clear code.
  const { formants: _f, ...older } = voice;
  assert.throws(() => engine.createConverter({ voice: parseVoiceProfile(older) }), {
    code: 'VC_ERR_VOICE_PROFILE',
    message: /no "formants".*clone the voice again/,
  });
  assert.throws(() => engine.createConverter({ voice, sourceProfile: parseVoiceProfile(older) }), {
    code: 'VC_ERR_VOICE_PROFILE',
    message: /\(source\) has no "formants"/,
  });
  // A profile whose envelope statistics start elsewhere than the model's cepstra (the default model reads the
  // whole band: no envelopeFromHz) is refused: its statistics mean something else.
  assert.equal(voice.envelopeFromHz, undefined, 'the default model reads its cepstra over the whole band');
  const elsewhere = parseVoiceProfile({ ...voice, envelopeFromHz: 120 });
  assert.throws(() => engine.createConverter({ voice: elsewhere }), {
    code: 'VC_ERR_VOICE_PROFILE',
    message:
      /\(voice\) holds envelope statistics from 120 Hz and this model reads them from 0 Hz.*clone the voice again/,
  });
  assert.throws(() => engine.createConverter({ voice, sourceProfile: { ...voice, envelopeFromHz: 50 } }), {
    code: 'VC_ERR_VOICE_PROFILE',
    message: /\(sourceProfile\) holds envelope statistics from 50 Hz/,
  });
  const converter = engine.createConverter({ voice });
  await converter.flush();
  assert.throws(() => converter.push(new Float32Array(1)), { code: 'VC_ERR_CONVERTER_STATE' });
});
