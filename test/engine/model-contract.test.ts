import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BuiltModel } from '../../models/builder/built-model.js';
import { buildTestModel } from '../../models/builder/test-model.js';
import { writeModel } from '../../models/builder/write-model.js';
import {
  type ConverterOptions,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../../workers/engine/index.js';
import { blocks, concat } from '../helpers/audio-io.js';
import { median, yinPitch } from '../helpers/audio-metrics.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vcfarm-model-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes the second model with `edit` applied to its manifest, into a fresh folder. */
async function writeVariant(
  name: string,
  edit: (m: BuiltModel['manifest']) => void = () => {},
): Promise<string> {
  const model = buildTestModel();
  edit(model.manifest);
  const target = join(dir, name);
  await writeModel(model, target);
  return target;
}

const tone = (sr: number, f0: number, seconds: number): Float32Array =>
  Float32Array.from({ length: Math.round(sr * seconds) }, (_, i) => {
    let v = 0;
    for (let h = 1; h <= 8; h++) v += (0.2 / h) * Math.sin((2 * Math.PI * f0 * h * i) / sr);
    return v;
  });

async function convertAll(
  engine: VoiceConversionEngine,
  pcm: Float32Array,
  options: ConverterOptions,
): Promise<Float32Array> {
  const out: Float32Array[] = [];
  for await (const b of engine.convert(blocks(pcm), options)) out.push(b);
  return concat(out);
}

test('a second model (16 kHz, other names, two chained graphs) runs unchanged', async () => {
  const engine = await VoiceConversionEngine.load(await writeVariant('ok'));
  try {
    assert.equal(engine.sampleRate, 16000);
    const low = tone(16000, 120, 1.5);
    const high = tone(16000, 240, 1.5);
    const source: VoiceProfile = await engine.analyse(blocks(low));
    const target = await engine.analyse(blocks(high));
    assert.equal(source.model, 'vcfarm-test');
    assert.ok(Math.abs((source.f0Median ?? 0) / 120 - 1) < 0.02, `f0 ${source.f0Median}`);
    assert.ok(Math.abs(median(yinPitch(high, 16000)) / (target.f0Median ?? 0) - 1) < 0.02);

    const options = { voice: target, sourceProfile: source, params: { tilt: 0.5 } };
    const chunked = await convertAll(engine, low, options);
    const whole = await convertAll(engine, low, {
      ...options,
      chunkSamples: Math.ceil(low.length / 128) * 128,
    });
    assert.equal(chunked.length, low.length);
    assert.ok(chunked.every(Number.isFinite));
    assert.ok(chunked.some((v) => v !== 0));
    const maxDiff = chunked.reduce((m, v, i) => Math.max(m, Math.abs(v - whole[i])), 0);
    assert.ok(maxDiff < 1e-4, `chunked vs whole-file differ by ${maxDiff}`);
    // The first graph's param reaches it: another tilt gives another output.
    const other = await convertAll(engine, low, { ...options, params: { tilt: 0 } });
    assert.ok(other.some((v, i) => Math.abs(v - chunked[i]) > 1e-3));
  } finally {
    await engine.close();
  }
});

test('a manifest input name the graph does not have is refused, naming graph and input', async () => {
  const path = await writeVariant('bad-name', (m) => {
    m.graphs.timbre.inputs[3].name = 'amt';
  });
  await assert.rejects(VoiceConversionEngine.load(path), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'VC_ERR_MODEL_MANIFEST');
    assert.match(err.message, /graph "timbre" input "(amt|amount)"/);
    return true;
  });
});

test('a manifest dtype that disagrees with the graph is refused, naming graph and input', async () => {
  const path = await writeVariant('bad-dtype', (m) => {
    m.graphs.emphasis.inputs[1].dtype = 'int64';
  });
  await assert.rejects(VoiceConversionEngine.load(path), {
    code: 'VC_ERR_MODEL_MANIFEST',
    message: /graph "emphasis" input "tilt": manifest says dtype int64, graph has float32/,
  });
});

test('a wrong shape, an unknown output and a broken chain are refused', async () => {
  const cases: [string, (m: BuiltModel['manifest']) => void, RegExp][] = [
    [
      'shape',
      (m) => {
        m.graphs.timbre.inputs[1].shape = [128];
      },
      /graph "timbre" input "voice_env": manifest says shape \[128\]/,
    ],
    [
      'output',
      (m) => {
        m.graphs.timbre.outputs[0].name = 'res';
        m.conversion.output.output = 'res';
      },
      /graph "timbre" output "(res|result)"/,
    ],
    [
      'chain',
      (m) => {
        m.conversion.chain = ['timbre', 'emphasis'];
      },
      /graph "timbre" input "wave" reads graph "emphasis"/,
    ],
  ];
  for (const [name, edit, message] of cases) {
    await assert.rejects(VoiceConversionEngine.load(await writeVariant(name, edit)), {
      code: 'VC_ERR_MODEL_MANIFEST',
      message,
    });
  }
  await writeFile(join(dir, 'ok', 'model.json'), '{"format":"vcfarm-model/1"}');
  await assert.rejects(VoiceConversionEngine.load(join(dir, 'ok')), {
    code: 'VC_ERR_MODEL_MANIFEST',
    message: /model manifest/,
  });
});
