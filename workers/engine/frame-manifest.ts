import Type from 'typebox';
import type { ModelManifest } from './manifest.js';

/**
 * Frame-domain input sources, for models whose graphs take per-frame tensors rather than audio (an RVC
 * generator: content features, F0 per frame, noise per frame). A frame is `frames.hop` samples of the
 * window at the manifest's sampleRate; a window of W samples has W / hop frames.
 */
export const FRAME_SOURCES = [
  // An earlier chain graph's per-frame output (e.g. ContentVec features [1, T, 768] at 320 samples a
  // frame), fitted to window / (hop * repeat) frames (a graph whose convolutions give a frame or two
  // fewer is padded with its last frame), then each frame repeated `repeat` times onto the frame grid.
  Type.Object(
    {
      from: Type.Literal('features'),
      graph: Type.String({ minLength: 1 }),
      output: Type.String({ minLength: 1 }),
      repeat: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    },
    { additionalProperties: false },
  ),
  // F0 per frame from the analysis graph run on the window, times the pitch ratio: in Hz (0 when
  // unvoiced), or as RVC's coarse mel bins 1..255 (1 when unvoiced).
  Type.Object(
    { from: Type.Literal('f0'), unit: Type.Union([Type.Literal('hz'), Type.Literal('coarse')]) },
    { additionalProperties: false },
  ),
  // Standard normal noise, a pure function of (seed, stream frame, channel): every window sees the same
  // noise for the same stream frame, whatever the chunking.
  Type.Object(
    { from: Type.Literal('noise'), seed: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }) },
    { additionalProperties: false },
  ),
  // The window's number of frames (e.g. RVC's phone_lengths).
  Type.Object({ from: Type.Literal('frameCount') }, { additionalProperties: false }),
] as const;

export const FramesSection = Type.Object(
  {
    /** Samples (at sampleRate) per frame of the frame-domain inputs. */
    hop: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

const FRAME_KINDS = new Set(['features', 'f0', 'noise', 'frameCount']);

/** True if any chain graph takes a frame-domain input. */
export function usesFrames(m: ModelManifest): boolean {
  return m.conversion.chain.some((name) =>
    m.graphs[name]?.inputs.some((i) => FRAME_KINDS.has(i.source.from)),
  );
}

/** Checks the frame grid, the rate change and every frame-domain input against the rest of the manifest. */
export function checkFrameReferences(m: ModelManifest, fail: (message: string) => never): void {
  const out = m.outputSampleRate ?? m.sampleRate;
  if ((m.alignSamples * out) % m.sampleRate !== 0) {
    fail(`alignSamples (${m.alignSamples}) is not a whole number of samples at outputSampleRate (${out})`);
  }
  if (!usesFrames(m)) return;
  const hop = m.frames?.hop ?? fail('frame-domain inputs (features, f0, noise, frameCount) need "frames"');
  if (m.alignSamples % hop !== 0)
    fail(`alignSamples (${m.alignSamples}) is not a multiple of frames.hop (${hop})`);
  const seen = new Set<string>();
  for (const name of m.conversion.chain) {
    for (const input of m.graphs[name].inputs) {
      const s = input.source;
      const where = `graph "${name}" input "${input.name}"`;
      const symbolic = input.shape.filter((d) => typeof d === 'string').length;
      const fixed = input.shape.reduce<number>((p, d) => (typeof d === 'number' ? p * d : p), 1);
      if (s.from === 'features') {
        if (!seen.has(s.graph)) fail(`${where} reads graph "${s.graph}", not earlier in the chain`);
        const o = m.graphs[s.graph].outputs.find((x) => x.name === s.output);
        if (!o) fail(`${where} reads "${s.graph}.${s.output}", which is not declared`);
        if (o.shape.filter((d) => typeof d === 'string').length !== 1) {
          fail(`${where}: "${s.graph}.${s.output}" needs exactly one symbolic (frame) dim`);
        }
        if (m.alignSamples % (hop * (s.repeat ?? 1)) !== 0) {
          fail(`${where}: alignSamples is not a multiple of frames.hop × repeat (${hop * (s.repeat ?? 1)})`);
        }
      }
      if ((s.from === 'f0' || s.from === 'noise' || s.from === 'features') && symbolic !== 1) {
        fail(`${where} needs exactly one symbolic (frame) dim`);
      }
      if (s.from === 'f0') {
        if (fixed !== 1) fail(`${where} must be shaped like [1, "frames"]`);
        if (m.alignSamples % m.analysis.frameHop !== 0) {
          fail(
            `alignSamples (${m.alignSamples}) is not a multiple of analysis.frameHop (${m.analysis.frameHop})`,
          );
        }
      }
      if (s.from === 'frameCount' && (symbolic !== 0 || fixed !== 1)) fail(`${where} must be shaped [1]`);
    }
    seen.add(name);
  }
}
