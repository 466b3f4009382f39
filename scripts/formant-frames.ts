import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeWav } from '../test/helpers/audio-io.js';
import { engineConverter } from '../test/helpers/engine-converter.js';
import { JUDGE_PAIRS, Judge } from '../test/helpers/judge.js';
import { firstPart, lastPart, PcmCache } from '../test/helpers/librispeech.js';
import { MEASURE_RATE } from '../test/helpers/voice-measures.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

/**
 * Saves, for judge pairs, the 16 kHz audio the judge measures: the source's whole utterance, the target's
 * clone part and held-out part, and the output of the model, as WAV files in --save DIR
 * (`<source>-<target>.{src,clone,held,out}.wav`), for frame-by-frame study of formants.
 *   node dist/scripts/formant-frames.js --save DIR [--model DIR] [--pairs 23]
 */
const { values } = parseArgs({
  options: { model: { type: 'string' }, pairs: { type: 'string', default: '23' }, save: { type: 'string' } },
});
if (!values.save) throw new Error('--save DIR is required');
const saveDir = resolve(values.save);
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const pairs = values.pairs.split(',').map((i) => JUDGE_PAIRS[Number(i)]);
const work = await mkdtemp(join(tmpdir(), 'vcfarm-formant-frames-'));
const engine = await VoiceConversionEngine.load(modelDir);
try {
  await mkdir(saveDir, { recursive: true });
  const cache = new PcmCache(work);
  const judge = await Judge.create(cache);
  const convert = engineConverter(engine);
  for (const pair of pairs) {
    const name = join(saveDir, `${pair.source}-${pair.target}`);
    const source = await cache.resample(judge.speech(pair.source), MEASURE_RATE, engine.sampleRate);
    const clone = await cache.resample(firstPart(judge.speech(pair.target)), MEASURE_RATE, engine.sampleRate);
    const out = await convert({ source, clone, sampleRate: engine.sampleRate, pair });
    await writeWav(
      `${name}.out.wav`,
      await cache.resample(out.pcm, out.sampleRate, MEASURE_RATE),
      MEASURE_RATE,
    );
    await writeWav(`${name}.src.wav`, judge.speech(pair.source), MEASURE_RATE);
    await writeWav(`${name}.clone.wav`, firstPart(judge.speech(pair.target)), MEASURE_RATE);
    await writeWav(`${name}.held.wav`, lastPart(judge.speech(pair.target)), MEASURE_RATE);
    console.log(`saved ${name}.*.wav`);
  }
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
