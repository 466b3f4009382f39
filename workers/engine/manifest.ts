import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { ModelManifestError } from './errors.js';
import { checkFrameReferences, FRAME_SOURCES, FramesSection } from './frame-manifest.js';
import { CEPSTRA, MAX_CEPSTRA, MAX_ENVELOPE_EXEMPLARS } from './voice-profile.js';

const Dim = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 })]);
const DType = Type.Union([Type.Literal('float32'), Type.Literal('int64')]);

const Source = Type.Union([
  Type.Object({ from: Type.Literal('audio') }, { additionalProperties: false }),
  Type.Object(
    {
      from: Type.Literal('voice'),
      field: Type.String({ minLength: 1 }),
      /** Which profile feeds this input; default 'target'. */
      role: Type.Optional(Type.Union([Type.Literal('target'), Type.Literal('source')])),
      /**
       * Used when the profile has no such field (e.g. a speaker id for a voice cloned on this model); for an
       * input with a symbolic dim, one row of it (e.g. an empty exemplar bank).
       */
      default: Type.Optional(Type.Number()),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { from: Type.Literal('param'), name: Type.String({ minLength: 1 }), default: Type.Number() },
    { additionalProperties: false },
  ),
  // Recurrent state: this graph's `output` from the previous window (`initial` for the first one).
  Type.Object(
    { from: Type.Literal('state'), output: Type.String({ minLength: 1 }), initial: Type.Number() },
    { additionalProperties: false },
  ),
  // The engine's pitchRatioFor(source, target, semitones).
  Type.Object({ from: Type.Literal('pitchRatio') }, { additionalProperties: false }),
  // [source median F0 in Hz, log-F0 spread exponent]: pitchMapFor(source, target).
  Type.Object({ from: Type.Literal('pitchMap') }, { additionalProperties: false }),
  // Long-term envelope (as analyse() makes a profile's: log mean power per bin) of an earlier chain graph's
  // audio output, measured by the analysis graph over the stream's first `seconds`. The engine holds the
  // windows until then, so one pass both measures and converts.
  Type.Object(
    {
      from: Type.Literal('analysis'),
      graph: Type.String({ minLength: 1 }),
      output: Type.String({ minLength: 1 }),
      seconds: Type.Number({ exclusiveMinimum: 0 }),
    },
    { additionalProperties: false },
  ),
  // The same measurement of the conversion's input audio over the same kind of span (e.g. to tell what the
  // chain does to the long-term envelope from what the speech's content does).
  Type.Object(
    {
      from: Type.Literal('analysis'),
      input: Type.Literal('audio'),
      seconds: Type.Number({ exclusiveMinimum: 0 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      from: Type.Literal('graph'),
      graph: Type.String({ minLength: 1 }),
      output: Type.String({ minLength: 1 }),
    },
    { additionalProperties: false },
  ),
  ...FRAME_SOURCES,
]);

const Tensor = Type.Object(
  { name: Type.String({ minLength: 1 }), dtype: DType, shape: Type.Array(Dim) },
  { additionalProperties: false },
);
const GraphInput = Type.Object(
  { name: Type.String({ minLength: 1 }), dtype: DType, shape: Type.Array(Dim), source: Source },
  { additionalProperties: false },
);

const Graph = Type.Object(
  {
    file: Type.String({ pattern: '^[A-Za-z0-9._-]+\\.onnx$' }),
    inputs: Type.Array(GraphInput),
    outputs: Type.Array(Tensor),
  },
  { additionalProperties: false },
);

const Count = Type.Integer({ minimum: 1 });

export const ModelManifestSchema = Type.Object({
  format: Type.Literal('vcfarm-model/1'),
  name: Type.String({ minLength: 1 }),
  /** Rate of the audio every graph (and the analysis) sees. */
  sampleRate: Type.Integer({ minimum: 8000, maximum: 192000 }),
  /** Rate of the conversion output, when the last graph changes the rate (e.g. an RVC generator); default sampleRate. */
  outputSampleRate: Type.Optional(Type.Integer({ minimum: 8000, maximum: 192000 })),
  /** The frame grid of frame-domain inputs (f0, noise, frame counts, features); needed only by models that have them. */
  frames: Type.Optional(FramesSection),
  /** Samples of new audio per model run; every run sees left + chunk + right samples. */
  chunkSamples: Count,
  context: Type.Object({ left: Type.Integer({ minimum: 0 }), right: Type.Integer({ minimum: 0 }) }),
  /** Chunk and context sizes must be multiples of this (the STFT hop), which keeps chunked == whole-file. */
  alignSamples: Count,
  graphs: Type.Record(Type.String(), Graph),
  analysis: Type.Object({
    graph: Type.String(),
    frameLength: Count,
    frameHop: Count,
    /** Output names (of the analysis graph) per role; all are per-frame, power is per-frame-per-bin. */
    outputs: Type.Object({
      f0: Type.String(),
      voicing: Type.String(),
      energy: Type.String(),
      power: Type.String(),
    }),
    /** Frames whose normalised autocorrelation peak is below this are unvoiced. */
    voicingThreshold: Type.Number(),
    /**
     * The voicing a frame needs to count in a profile's F0 statistics (f0Median, f0P10, f0P90); the formants and
     * the envelope classes keep voicingThreshold. Absent: voicingThreshold. Profiles made before a model
     * changed it keep the statistics they were made with (docs/MODEL-NOTES.md "F0 and voicing").
     */
    f0VoicingThreshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** Frames quieter than this (dBFS, mean square) are ignored for F0. */
    silenceDb: Type.Number(),
    /**
     * Where the profile's envelope cepstra start (Hz, voice-features.ts cepstrumTable): the log power below it
     * is read at the first bin at or above it. Absent: 0 (the whole band). A profile whose envelope
     * statistics start elsewhere (its `envelopeFromHz`, absent = 0) is refused: clone the voice again.
     */
    envelopeFromHz: Type.Optional(Type.Number({ minimum: 0 })),
    /**
     * How many band cepstra (c1..cQ over 0..8 kHz, voice-features.ts) the profile's envelope statistics hold.
     * Absent: 24 (CEPSTRA). A profile holding another count (its `envelopeCepstra`, absent = 24) is refused:
     * clone the voice again (its statistics cannot be re-derived without its audio).
     */
    envelopeCepstra: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CEPSTRA })),
    /**
     * How many envelope exemplars (an evenly spaced sample of the voice's frames' band cepstra with their
     * voicing, the profile's `envelopeExemplars`) a profile made with this model keeps at most. Absent: none.
     */
    envelopeExemplars: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ENVELOPE_EXEMPLARS })),
    /**
     * A speaker-independent prior for a conversion's source envelope statistics (envelope-prior.ts): per
     * mapping class (voiced frames, then the others) the mean of speakers' cepstral means [2][Q] and of
     * their covariances [2][Q][Q] (Q: envelopeCepstra), worth `frames` frames. A short source's statistics are moved toward it.
     */
    /**
     * A conversion's source formants from matching its frames to the target's (formant-match.ts): the warp's
     * ratios are those that lay the source's voiced frames' F1..F3 onto their nearest frames of the target's
     * `formantInventory` (start: the medians' ratios, or their geometric mean for all three). Absent, or
     * either profile without an inventory: the ratio of the median formants.
     */
    formantMatch: Type.Optional(
      Type.Object(
        {
          start: Type.Union([Type.Literal('medians'), Type.Literal('uniform')]),
          iterations: Type.Integer({ minimum: 1, maximum: 200 }),
          trim: Type.Number({ minimum: 0, maximum: 0.9 }),
          standardise: Type.Optional(Type.Boolean()),
          fadeSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
        },
        { additionalProperties: false },
      ),
    ),
    sourcePrior: Type.Optional(
      Type.Object({
        frames: Type.Number({ exclusiveMinimum: 0 }),
        /** What the prior's mean is worth, when not `frames` (0: the source keeps its own mean). */
        meanFrames: Type.Optional(Type.Number({ minimum: 0 })),
        /**
         * Sources this long (analysed seconds) or longer keep their own statistics; below, the prior's
         * weight falls linearly from full (0 s) to none. Absent: the full weight at any length.
         */
        fadeSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
        mean: Type.Array(Type.Number(), { minItems: 2, maxItems: 2 * MAX_CEPSTRA }),
        covariance: Type.Array(Type.Number(), { minItems: 2, maxItems: 2 * MAX_CEPSTRA * MAX_CEPSTRA }),
        /** Where it was measured, for humans. */
        from: Type.Optional(Type.String()),
      }),
    ),
  }),
  conversion: Type.Object({
    chain: Type.Array(Type.String(), { minItems: 1 }),
    output: Type.Object({ graph: Type.String(), output: Type.String() }),
    /**
     * Output level follows the input's: the integrated loudness (loudness.ts) of the input's first `seconds`
     * against that of `graph`'s `output` (an audio output at the model's rate; at or after a graph that takes an
     * in-pass measurement, a span no longer than the measurement's, whose held windows it is measured on) over
     * the same span sets one gain (a boost of at most `maxDb` and no more than
     * that output's peak leaves room for, a cut of at most `maxCutDb`), scaled by the strength param, applied
     * to the whole output before the limiter. Absent: no level stage.
     */
    loudness: Type.Optional(
      Type.Object(
        {
          graph: Type.String({ minLength: 1 }),
          output: Type.String({ minLength: 1 }),
          seconds: Type.Number({ exclusiveMinimum: 0 }),
          maxDb: Type.Number({ minimum: 0 }),
          maxCutDb: Type.Number({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
    ),
  }),
});

export type ModelManifest = Static<typeof ModelManifestSchema>;
export type GraphSpec = Static<typeof Graph>;
export type GraphInputSpec = Static<typeof GraphInput>;
export type TensorSpec = Static<typeof Tensor>;
export type SourcePrior = NonNullable<ModelManifest['analysis']['sourcePrior']>;
export type InputSource = Static<typeof Source>;

function fail(message: string): never {
  throw new ModelManifestError(`model manifest: ${message}`);
}

function graphOf(m: ModelManifest, name: string, where: string): GraphSpec {
  return m.graphs[name] ?? fail(`${where} names graph "${name}", which is not declared`);
}

function hasOutput(g: GraphSpec, name: string): boolean {
  return g.outputs.some((o) => o.name === name);
}

/** Checks what the schema cannot: references between graphs, the chain order, and size alignment. */
function checkReferences(m: ModelManifest): void {
  const align = m.alignSamples;
  for (const [key, v] of [
    ['chunkSamples', m.chunkSamples],
    ['context.left', m.context.left],
    ['context.right', m.context.right],
  ] as const) {
    if (v % align !== 0) fail(`${key} (${v}) is not a multiple of alignSamples (${align})`);
  }
  const a = m.analysis;
  const analysis = graphOf(m, a.graph, 'analysis.graph');
  if (Math.min(m.context.left, m.context.right) < a.frameLength / 2) {
    fail(`context (${m.context.left}/${m.context.right}) is shorter than half an analysis frame`);
  }
  for (const [role, out] of Object.entries(a.outputs)) {
    if (!hasOutput(analysis, out))
      fail(`analysis.outputs.${role} "${out}" is not an output of graph "${a.graph}"`);
  }
  for (const input of analysis.inputs) {
    if (!['audio', 'param'].includes(input.source.from)) {
      fail(`graph "${a.graph}" input "${input.name}": the analysis graph may only take audio and params`);
    }
  }
  const q = a.envelopeCepstra ?? CEPSTRA;
  const prior = a.sourcePrior;
  if (prior) {
    for (const [field, size] of [
      ['mean', 2 * q],
      ['covariance', 2 * q * q],
    ] as const) {
      if (prior[field].length !== size)
        fail(
          `/analysis/sourcePrior/${field} holds ${prior[field].length} numbers; the model's ${q} cepstra need ${size}`,
        );
    }
  }
  const seen = new Set<string>();
  for (const name of m.conversion.chain) {
    const g = graphOf(m, name, 'conversion.chain');
    for (const input of g.inputs) {
      const s = input.source;
      if (s.from === 'state' && !hasOutput(g, s.output)) {
        fail(
          `graph "${name}" input "${input.name}" carries state from "${s.output}", not an output of the graph`,
        );
      }
      if (s.from === 'analysis') {
        if ('graph' in s && !seen.has(s.graph))
          fail(`graph "${name}" input "${input.name}" measures graph "${s.graph}", not earlier in the chain`);
        if ('graph' in s && !hasOutput(graphOf(m, s.graph, 'source.graph'), s.output)) {
          fail(
            `graph "${name}" input "${input.name}" measures "${s.graph}.${s.output}", which is not declared`,
          );
        }
        const bins = analysis.outputs.find((o) => o.name === a.outputs.power)?.shape.at(-1);
        if (input.shape.length !== 1 || input.shape[0] !== bins) {
          fail(`graph "${name}" input "${input.name}" must be shaped [${bins}] like the analysis power`);
        }
        continue;
      }
      if (s.from !== 'graph') continue;
      if (!seen.has(s.graph))
        fail(`graph "${name}" input "${input.name}" reads graph "${s.graph}", not earlier in the chain`);
      if (!hasOutput(graphOf(m, s.graph, 'source.graph'), s.output)) {
        fail(`graph "${name}" input "${input.name}" reads "${s.graph}.${s.output}", which is not declared`);
      }
    }
    seen.add(name);
  }
  checkFrameReferences(m, fail);
  const out = m.conversion.output;
  if (out.graph !== m.conversion.chain[m.conversion.chain.length - 1]) {
    fail(`conversion.output.graph "${out.graph}" is not the last graph of the chain`);
  }
  if (!hasOutput(graphOf(m, out.graph, 'conversion.output'), out.output)) {
    fail(`conversion.output "${out.output}" is not an output of graph "${out.graph}"`);
  }
  checkLoudness(m);
}

/**
 * conversion.loudness measures a declared output of a chain graph. One at or after the first graph that waits
 * for an in-pass measurement (the gate) is measured on the windows held for that measurement, so its span may
 * not be longer than theirs.
 */
function checkLoudness(m: ModelManifest): void {
  const l = m.conversion.loudness;
  if (l === undefined) return;
  const chain = m.conversion.chain;
  const at = chain.indexOf(l.graph);
  if (at < 0) fail(`conversion.loudness.graph "${l.graph}" is not in the chain`);
  if (!hasOutput(graphOf(m, l.graph, 'conversion.loudness'), l.output))
    fail(`conversion.loudness.output "${l.output}" is not an output of graph "${l.graph}"`);
  const held = chain.flatMap((name) =>
    m.graphs[name].inputs.flatMap((i) => (i.source.from === 'analysis' ? [i.source.seconds] : [])),
  );
  const gate = chain.findIndex((name) => m.graphs[name].inputs.some((i) => i.source.from === 'analysis'));
  if (gate >= 0 && at >= gate && l.seconds > Math.max(...held))
    fail(
      `conversion.loudness.graph "${l.graph}" comes after graph "${chain[gate]}", which waits for a measurement: its seconds (${l.seconds}) may not exceed the longest measurement's (${Math.max(...held)})`,
    );
}

/** Validates parsed JSON as a manifest; throws ModelManifestError naming the first bad path. */
export function parseManifest(json: unknown): ModelManifest {
  if (!Value.Check(ModelManifestSchema, json)) {
    const first = [...Value.Errors(ModelManifestSchema, json)][0];
    fail(`${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
  }
  checkReferences(json);
  return json;
}
