import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BuiltModel } from '../../models/builder/built-model.js';
import { OPSET } from '../../models/builder/built-model.js';
import { GraphBuilder } from '../../models/builder/graph-builder.js';
import { rvcPreset } from '../../models/builder/rvc-folder.js';
import {
  buildRvcTestModel,
  stubContentVecGraph,
  stubRvcGeneratorGraph,
} from '../../models/builder/rvc-test-model.js';
import { writeModel } from '../../models/builder/write-model.js';
import {
  type ConverterOptions,
  frameNoise,
  parseVoiceProfile,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../../workers/engine/index.js';
import { blocks, concat, decodeFile } from '../helpers/audio-io.js';
import { median, yinPitch } from '../helpers/audio-metrics.js';

// In-house graphs with the exact RVC v2 export signatures (models/builder/rvc-test-model.ts): a stand-in
// ContentVec (`source` [1,1,n] -> `embed` [1,T,768], one frame fewer than n/320 like the real one) and a
// generator taking phone, phone_lengths, pitch, pitchf, ds, rnd and giving `audio` [1,1,N] at 40 kHz.

/** shared/ lies beside the repository (CI) or at the workplace's root (worktrees). */
const LIBRISPEECH = [
  fileURLToPath(new URL('../../../../shared/speech/librispeech', import.meta.url)),
  '/work/shared/speech/librispeech',
].find((d) => existsSync(d)) as string;

const IN = 16000;
const OUT = 40000;
let dir: string;
let engine: VoiceConversionEngine;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vcfarm-rvc-'));
  await writeModel(buildRvcTestModel(), join(dir, 'rvc'));
  engine = await VoiceConversionEngine.load(join(dir, 'rvc'));
});
after(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

async function writeVariant(name: string, edit: (m: BuiltModel) => void): Promise<string> {
  const model = buildRvcTestModel();
  edit(model);
  await writeModel(model, join(dir, name));
  return join(dir, name);
}

const tone = (f0: number, seconds: number, level = 0.2): Float32Array =>
  Float32Array.from({ length: Math.round(IN * seconds) }, (_, i) => {
    let v = 0;
    for (let h = 1; h <= 6; h++) v += (level / h) * Math.sin((2 * Math.PI * f0 * h * i) / IN);
    return v;
  });

/** Deterministic white noise (LCG), so the test input itself never varies. */
function whiteNoise(seconds: number, level: number): Float32Array {
  let s = 12345;
  return Float32Array.from({ length: Math.round(IN * seconds) }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * level;
  });
}

const rms = (pcm: Float32Array, from = 0, to = pcm.length): number => {
  let sum = 0;
  for (let i = from; i < to; i++) sum += pcm[i] * pcm[i];
  return Math.sqrt(sum / Math.max(1, to - from));
};

/** A preset of an RVC model (as `npm run rvc:folder` writes): the speaker id (none: a profile without one) and, optionally, the speaker's median F0. */
function speaker(speakerId: number | undefined, f0Median: number | null): VoiceProfile {
  const { speakerId: id, ...profile } = rvcPreset(
    'vcfarm-rvc-test',
    speakerId ?? 0,
    f0Median,
  ) as VoiceProfile & {
    speakerId: number;
  };
  return speakerId === undefined ? profile : ({ ...profile, speakerId: id } as VoiceProfile);
}

async function convertAll(
  e: VoiceConversionEngine,
  pcm: Float32Array,
  o: ConverterOptions,
): Promise<Float32Array> {
  const out: Float32Array[] = [];
  for await (const b of e.convert(blocks(pcm), o)) out.push(b);
  return concat(out);
}

const maxDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('an RVC-signature model converts at 16 kHz in, 40 kHz out: pitch, loudness and length follow the input', async () => {
  assert.equal(engine.sampleRate, IN);
  assert.equal(engine.outputSampleRate, OUT);
  const input = tone(200, 2);
  const source = await engine.analyse(blocks(input));
  const out = await convertAll(engine, input, { voice: speaker(0, null), sourceProfile: source });
  assert.equal(out.length, (input.length * OUT) / IN);
  assert.ok(out.every(Number.isFinite));
  const f0 = median(yinPitch(out, OUT));
  assert.ok(Math.abs(f0 / 200 - 1) < 0.02, `output F0 ${f0}`);
  // The generator's loudness is the stand-in features' (the input's RMS per 320 samples).
  const ratio = rms(out, OUT / 4, OUT * 1.75) / rms(input, IN / 4, IN * 1.75);
  assert.ok(Math.abs(ratio - 1) < 0.05, `output/input RMS ${ratio}`);

  // Loudness per frame reaches the generator through phone, aligned in time: a quieter second half.
  const stepped = concat([tone(200, 1), tone(200, 1, 0.05)]);
  const outStepped = await convertAll(engine, stepped, { voice: speaker(0, null), sourceProfile: source });
  const halves = rms(outStepped, OUT * 0.1, OUT * 0.9) / rms(outStepped, OUT * 1.1, OUT * 1.9);
  assert.ok(Math.abs(halves - 4) < 0.2, `loud/quiet ${halves}`);
});

test('F0 is moved to the speaker and by semitones; the speaker id reaches ds (default 0)', async () => {
  const input = tone(200, 1.5);
  const source = await engine.analyse(blocks(input));
  const pitchOf = async (o: ConverterOptions): Promise<number> =>
    median(yinPitch(await convertAll(engine, input, o), OUT, { fmax: 900 }));
  const up = await pitchOf({ voice: speaker(0, null), sourceProfile: source, semitones: 12 });
  assert.ok(Math.abs(up / 400 - 1) < 0.02, `+12 semitones: ${up}`);
  const toSpeaker = await pitchOf({ voice: speaker(0, 300), sourceProfile: source });
  assert.ok(Math.abs(toSpeaker / 300 - 1) < 0.02, `to a 300 Hz speaker: ${toSpeaker}`);

  const level = async (voice: VoiceProfile): Promise<number> =>
    rms(await convertAll(engine, input, { voice, sourceProfile: source }));
  const [s0, s1, none] = await Promise.all([
    level(speaker(0, null)),
    level(speaker(1, null)),
    level(speaker(undefined, null)),
  ]);
  assert.ok(Math.abs(s1 / s0 - 0.5) < 0.01, `speaker 1 / speaker 0 = ${s1 / s0}`);
  assert.equal(none, s0);
});

test('chunked output equals whole-file output, voiced and unvoiced (the noise is seeded per stream frame)', async () => {
  const voiced = tone(200, 2.5);
  const hiss = whiteNoise(2.5, 0.1);
  for (const input of [voiced, hiss]) {
    const source = await engine.analyse(blocks(input));
    const options = { voice: speaker(0, null), sourceProfile: source };
    const chunked = await convertAll(engine, input, { ...options, chunkSamples: 3200 });
    const whole = await convertAll(engine, input, {
      ...options,
      chunkSamples: Math.ceil(input.length / 320) * 320,
    });
    assert.equal(chunked.length, (input.length * OUT) / IN);
    assert.equal(whole.length, chunked.length);
    assert.ok(rms(chunked) > 0.01, `output RMS ${rms(chunked)}`);
    assert.ok(maxDiff(chunked, whole) < 1e-4, `chunked vs whole differ by ${maxDiff(chunked, whole)}`);
  }
});

test('unvoiced frames carry the noise input: 0.5 x level x N(seed 1, stream frame, channel 0)', async () => {
  const input = whiteNoise(2, 0.1);
  const out = await convertAll(engine, input, { voice: speaker(0, null), chunkSamples: 3200 });
  let matching = 0;
  let frames = 0;
  // Stream frame k (10 ms) is output samples [400k, 400k + 400); its level is the RMS of the input's
  // 320-sample block floor(k / 2).
  for (let k = 2; k < 198; k++) {
    const block = Math.floor(k / 2) * 320;
    const expected = 0.5 * rms(input, block, block + 320) * frameNoise(1, k, 0);
    const got = out[k * 400 + 200];
    frames++;
    if (Math.abs(got - expected) <= 0.02 * Math.abs(expected) + 1e-4) matching++;
  }
  assert.ok(matching / frames > 0.95, `${matching} of ${frames} frames hold the seeded noise`);
});

test("the RVC folder's F0 tracker follows real speech (LibriSpeech, a male and a female speaker)", async () => {
  // The F0 that feeds pitch/pitchf comes from this tracker; its median must match YIN on the same audio.
  for (const file of ['1040-133433-0000.flac', '103-1240-0000.flac']) {
    const speech = await decodeFile(join(LIBRISPEECH, file), { sampleRate: IN });
    const profile = await engine.analyse(blocks(speech));
    // YIN limited to the speech range (its 60-500 Hz default halves one of these speakers).
    const yin = median(yinPitch(speech, IN, { fmin: 70, fmax: 400 }));
    assert.ok(
      Math.abs((profile.f0Median ?? 0) / yin - 1) < 0.05,
      `${file}: tracker ${profile.f0Median} Hz, YIN ${yin} Hz`,
    );
    assert.ok(
      profile.voicedSeconds > 0.3 * profile.durationSeconds,
      `${file}: voiced ${profile.voicedSeconds} s`,
    );
  }
});

test('npm run rvc:folder makes a folder that serves the two exports put beside it', async () => {
  const folder = join(dir, 'kit');
  const script = fileURLToPath(new URL('../../scripts/rvc-folder.js', import.meta.url));
  const args = [
    script,
    folder,
    '--name',
    'kit-voice',
    '--generator',
    'kit.onnx',
    '--speakers',
    '2',
    '--f0',
    '300',
  ];
  const { stdout } = await promisify(execFile)(process.execPath, args);
  assert.match(stdout, /put vec-768-layer-12\.onnx into/);
  await writeFile(join(folder, 'vec-768-layer-12.onnx'), stubContentVecGraph());
  await writeFile(join(folder, 'kit.onnx'), stubRvcGeneratorGraph());
  const kit = await VoiceConversionEngine.load(folder);
  try {
    const voice = parseVoiceProfile(
      JSON.parse(await readFile(join(folder, 'voices', 'speaker-1.json'), 'utf8')),
    );
    const input = tone(200, 1.5);
    const source = await kit.analyse(blocks(input));
    const out = await convertAll(kit, input, { voice, sourceProfile: source });
    assert.equal(out.length, (input.length * OUT) / IN);
    const f0 = median(yinPitch(out, OUT, { fmax: 900 }));
    assert.ok(Math.abs(f0 / 300 - 1) < 0.02, `F0 ${f0}`);
    assert.ok(Math.abs(rms(out) / rms(input) - 0.5) < 0.05, 'speaker 1');
  } finally {
    await kit.close();
  }
});

test('RVC manifests that cannot work are refused at load or fail the conversion with a clear code', async () => {
  const refused: [string, (m: BuiltModel) => void, RegExp][] = [
    [
      'dtype',
      (m) => {
        m.manifest.graphs.generator.inputs[2].dtype = 'float32';
      },
      /graph "generator" input "pitch": manifest says dtype float32, graph has int64/,
    ],
    [
      'noise-shape',
      (m) => {
        m.manifest.graphs.generator.inputs[5].shape = [1, 256, 'frames'];
      },
      /graph "generator" input "rnd": manifest says shape \[1, 256, frames\]/,
    ],
    [
      'no-frames',
      (m) => {
        delete m.manifest.frames;
      },
      /need "frames"/,
    ],
    [
      'align',
      (m) => {
        m.manifest.alignSamples = 160;
      },
      /frames.hop × repeat \(320\)/,
    ],
    [
      'features-order',
      (m) => {
        m.manifest.conversion.chain = ['generator', 'vec'];
        m.manifest.conversion.output.graph = 'vec';
        m.manifest.conversion.output.output = 'embed';
      },
      /graph "generator" input "phone" reads graph "vec", not earlier in the chain/,
    ],
  ];
  for (const [name, edit, message] of refused) {
    await assert.rejects(VoiceConversionEngine.load(await writeVariant(name, edit)), {
      code: 'VC_ERR_MODEL_MANIFEST',
      message,
    });
  }
  const input = tone(200, 1);
  const failing: [string, (m: BuiltModel) => void, RegExp][] = [
    [
      'rate',
      (m) => {
        m.manifest.outputSampleRate = 48000;
      },
      /graph "generator" output "audio" gave 176000 samples for a window of 70400 \(expected 211200 at 48000 Hz\)/,
    ],
    [
      'repeat',
      (m) => {
        m.manifest.alignSamples = 640;
        const phone = m.manifest.graphs.generator.inputs[0].source;
        if (phone.from === 'features') phone.repeat = 4;
        m.files['vec.onnx'] = stubContentVecGraph();
      },
      /graph "generator" input "phone": the feature graph gave 219 frames for a window of 110/,
    ],
  ];
  failing.push([
    'run',
    (m) => {
      m.files['vec.onnx'] = frames333Graph();
    },
    /^graph "vec" failed to run on a window of 70400 samples$/,
  ]);
  for (const [name, edit, message] of failing) {
    const e = await VoiceConversionEngine.load(await writeVariant(name, edit));
    try {
      await assert.rejects(convertAll(e, input, { voice: speaker(0, null) }), {
        code: name === 'run' ? 'VC_ERR_MODEL_RUN' : 'VC_ERR_MODEL_MANIFEST',
        message,
      });
    } finally {
      await e.close();
    }
  }
});

/** A ContentVec stand-in with the right signature that ORT cannot run on a 70400-sample window (333 does not divide it). */
function frames333Graph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-rvc-test-bad-vec');
  const source = b.input('source', 'float32', [1, 1, 'n']);
  const framed = b.op('Reshape', [source, b.constant('int64', [1, -1, 333])]);
  const wide = b.op('Tile', [framed, b.constant('int64', [1, 1, 3])]);
  const cut = b.op('Slice', [
    wide,
    b.constant('int64', [0]),
    b.constant('int64', [768]),
    b.constant('int64', [2]),
  ]);
  b.output(cut, 'embed', 'float32', [1, 'frames', 768]);
  return b.toBytes(OPSET);
}
