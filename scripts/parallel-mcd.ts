import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { filterPcm } from '../test/helpers/audio-io.js';
import { median } from '../test/helpers/audio-metrics.js';
import { engineConverter } from '../test/helpers/engine-converter.js';
import type { Converter } from '../test/helpers/judge.js';
import { type ParallelVerdict, parallelMcd } from '../test/helpers/parallel-mcd.js';
import { MEASURE_RATE, voicing } from '../test/helpers/voice-measures.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

/**
 * Issue 10's parallel-data bar over a model folder: mel-cepstral distortion (c1-c24, DTW-aligned) of the
 * output against the target espeak-ng voice saying the same sentence, cut by >= 40 % against the source
 * saying it (test/helpers/parallel-mcd.ts), then the same for a plain formant-preserving pitch shift.
 *   node dist/scripts/parallel-mcd.js [--model DIR] [--strength 0..2] [--no-baseline]
 */
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    strength: { type: 'string', default: '1' },
    'no-baseline': { type: 'boolean', default: false },
  },
});
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const strength = Number(values.strength);
if (!(strength >= 0 && strength <= 2)) throw new Error('--strength must be a number from 0 to 2');

function report(name: string, verdicts: ParallelVerdict[]): void {
  console.log(`\n${name}\npair                      MCD src   MCD out   cut`);
  for (const v of verdicts) {
    console.log(
      `${`${v.source}->${v.target}`.padEnd(24)} ${v.before.toFixed(2).padStart(7)} ${v.after.toFixed(2).padStart(9)} ${`${(v.cut * 100).toFixed(0)}%`.padStart(5)}`,
    );
  }
  const cut = median(verdicts.map((v) => v.cut));
  console.log(
    `median cut ${(cut * 100).toFixed(1)} % (issue-10 bar: >= 40 %: ${cut >= 0.4 ? 'met' : 'NOT met'})`,
  );
}

const work = await mkdtemp(join(tmpdir(), 'vcfarm-mcd-'));
const engine = await VoiceConversionEngine.load(modelDir);
try {
  report(
    `model ${engine.manifest.name} (${modelDir}), strength ${strength}`,
    await parallelMcd(work, engineConverter(engine, strength), engine.sampleRate),
  );
  if (!values['no-baseline']) {
    const median0 = (pcm: Float32Array) => median(voicing(pcm, MEASURE_RATE).f0);
    const shift: Converter = async ({ source, clone }) => {
      const ratio = median0(clone) / median0(source);
      const filter = `rubberband=pitch=${ratio.toFixed(6)}:formant=preserved:pitchq=quality`;
      return { pcm: await filterPcm(source, { sampleRate: MEASURE_RATE, filter }), sampleRate: MEASURE_RATE };
    };
    report(
      'baseline: rubberband pitch shift to the target F0, formants preserved',
      await parallelMcd(work, shift, MEASURE_RATE),
    );
  }
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
