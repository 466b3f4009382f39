import type { BuiltModel } from './built-model.js';
import { OPSET } from './built-model.js';
import { applyLogGain, bins, envelopeShift, type Framing, pitch, power, resynthesise, stft } from './dsp.js';
import { GraphBuilder } from './graph-builder.js';

/** Deliberately different from the default model: rate, frame size, names, and a two-graph chain. */
const FRAMING: Framing = { sampleRate: 16000, nfft: 512, hop: 128 };

function probeGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-test-probe');
  const pcm = b.input('pcm', 'float32', [1, 'n']);
  const pow = power(b, stft(b, pcm, FRAMING));
  const p = pitch(b, pow, FRAMING, 70, 400);
  b.output(p.f0, 'pitch_hz', 'float32', [1, 'm']);
  b.output(p.voicing, 'periodicity', 'float32', [1, 'm']);
  b.output(p.energy, 'loudness', 'float32', [1, 'm']);
  b.output(pow, 'spectrum', 'float32', [1, 'm', bins(FRAMING)]);
  return b.toBytes(OPSET);
}

/** y[n] = x[n] - tilt * x[n-1]: a first graph whose output feeds the second. */
function emphasisGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-test-emphasis');
  const pcm = b.input('pcm', 'float32', [1, 'n']);
  const tilt = b.input('tilt', 'float32', [1]);
  const padded = b.op('Pad', [pcm, b.constant('int64', [0, 1, 0, 0])]);
  const length = b.op('Slice', [b.op('Shape', [pcm]), b.constant('int64', [1]), b.constant('int64', [2])]);
  const delayed = b.op('Slice', [padded, b.constant('int64', [0]), length, b.constant('int64', [1])]);
  b.output(b.op('Sub', [pcm, b.op('Mul', [delayed, tilt])]), 'tilted', 'float32', [1, 'n']);
  return b.toBytes(OPSET);
}

function timbreGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-test-timbre');
  const nb = bins(FRAMING);
  const wave = b.input('wave', 'float32', [1, 'n']);
  const target = b.input('voice_env', 'float32', [nb]);
  const own = b.input('own_env', 'float32', [nb]);
  const amount = b.input('amount', 'float32', [1]);
  const shift = envelopeShift(b, FRAMING, own, target, amount, 24, 18);
  const spec = applyLogGain(b, stft(b, wave, FRAMING), shift);
  b.output(resynthesise(b, wave, spec, FRAMING), 'result', 'float32', [1, 'n']);
  return b.toBytes(OPSET);
}

/** The second model, used by tests to prove the manifest contract is generic. */
export function buildTestModel(): BuiltModel {
  const nb = bins(FRAMING);
  const frames = [1, 'm'];
  return {
    files: { 'probe.onnx': probeGraph(), 'emphasis.onnx': emphasisGraph(), 'timbre.onnx': timbreGraph() },
    manifest: {
      format: 'vcfarm-model/1',
      name: 'vcfarm-test',
      sampleRate: FRAMING.sampleRate,
      chunkSamples: 4096,
      context: { left: 512, right: 512 },
      alignSamples: FRAMING.hop,
      graphs: {
        probe: {
          file: 'probe.onnx',
          inputs: [{ name: 'pcm', dtype: 'float32', shape: [1, 'n'], source: { from: 'audio' } }],
          outputs: [
            { name: 'pitch_hz', dtype: 'float32', shape: frames },
            { name: 'periodicity', dtype: 'float32', shape: frames },
            { name: 'loudness', dtype: 'float32', shape: frames },
            { name: 'spectrum', dtype: 'float32', shape: [1, 'm', nb] },
          ],
        },
        emphasis: {
          file: 'emphasis.onnx',
          inputs: [
            { name: 'pcm', dtype: 'float32', shape: [1, 'n'], source: { from: 'audio' } },
            {
              name: 'tilt',
              dtype: 'float32',
              shape: [1],
              source: { from: 'param', name: 'tilt', default: 0.3 },
            },
          ],
          outputs: [{ name: 'tilted', dtype: 'float32', shape: [1, 'n'] }],
        },
        timbre: {
          file: 'timbre.onnx',
          inputs: [
            {
              name: 'wave',
              dtype: 'float32',
              shape: [1, 'n'],
              source: { from: 'graph', graph: 'emphasis', output: 'tilted' },
            },
            {
              name: 'voice_env',
              dtype: 'float32',
              shape: [nb],
              source: { from: 'voice', field: 'envelope' },
            },
            {
              name: 'own_env',
              dtype: 'float32',
              shape: [nb],
              source: { from: 'voice', field: 'envelope', role: 'source' },
            },
            {
              name: 'amount',
              dtype: 'float32',
              shape: [1],
              source: { from: 'param', name: 'strength', default: 1 },
            },
          ],
          outputs: [{ name: 'result', dtype: 'float32', shape: [1, 'n'] }],
        },
      },
      analysis: {
        graph: 'probe',
        frameLength: FRAMING.nfft,
        frameHop: FRAMING.hop,
        outputs: { f0: 'pitch_hz', voicing: 'periodicity', energy: 'loudness', power: 'spectrum' },
        voicingThreshold: 0.5,
        silenceDb: -50,
      },
      conversion: { chain: ['emphasis', 'timbre'], output: { graph: 'timbre', output: 'result' } },
    },
  };
}
