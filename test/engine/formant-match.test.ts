import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VoiceConversionEngine, type VoiceProfile, withMatchedFormants } from '../../workers/engine/index.js';
import { blocks, decodeFile, espeak } from '../helpers/audio-io.js';
import { convertAll, convertWhole } from '../helpers/engine-converter.js';
import { CLONE_PASSAGE, PARALLEL_PAIRS, SENTENCES } from '../helpers/parallel-mcd.js';

// The default model's source -> target formant ratios for a short source come from matching its voiced
// frames' F1..F3 to the target's inventory (workers/engine/formant-match.ts, the manifest's
// analysis.formantMatch), not from the ratio of the medians, which follow one sentence's words. Proven on the
// espeak-ng parallel voices with the model's own analysis graph: the ratios a sentence gets against the
// ratios of the two voices' ten-sentence passages.

const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
let engine: VoiceConversionEngine;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-formant-match-'));
  engine = await VoiceConversionEngine.load(MODEL_DIR);
});
after(async () => {
  await engine?.close();
  await rm(work, { recursive: true, force: true });
});

async function say(voice: string, text: string, name: string): Promise<Float32Array> {
  const wav = join(work, `${voice.replace(/[^a-z0-9]/gi, '_')}-${name}.wav`);
  await espeak(voice, text, wav);
  return decodeFile(wav, { sampleRate: engine.sampleRate });
}

// A voice's passage and a voice's sentence are the same audio (espeak-ng is deterministic) and the same
// analysis in every pair they are part of: each is rendered and analysed once for the file.
const profiles = new Map<string, Promise<VoiceProfile>>();
function profileOf(voice: string, text: string, name: string): Promise<VoiceProfile> {
  const key = `${voice}/${name}`;
  let p = profiles.get(key);
  if (!p) {
    p = say(voice, text, name).then((pcm) => engine.analyse(blocks(pcm)));
    profiles.set(key, p);
  }
  return p;
}

const ratios = (source: VoiceProfile, target: VoiceProfile): number[] =>
  (target.formants ?? []).map((v, k) => v / (source.formants?.[k] ?? 0));

test("a sentence's matched formant ratios lie nearer the voices' own than its medians' do", async () => {
  const match = engine.manifest.analysis.formantMatch;
  assert.ok(match, 'the default model matches formants');
  let medianErr = 0;
  let matchedErr = 0;
  let n = 0;
  for (const pair of PARALLEL_PAIRS) {
    const target = await profileOf(pair.target, CLONE_PASSAGE, 'passage');
    const passage = await profileOf(pair.source, CLONE_PASSAGE, 'passage');
    assert.ok((target.formantInventory?.length ?? 0) >= 3 * 100, 'the clone keeps its frames');
    assert.ok((target.formantInventory?.length ?? 0) <= 3 * 256, 'at most 256 of them');
    const truth = ratios(passage, target);
    for (const [i, text] of SENTENCES.entries()) {
      const sentence = await profileOf(pair.source, text, `s${i}`);
      assert.ok(sentence.durationSeconds < (match.fadeSeconds ?? Number.POSITIVE_INFINITY));
      const err = (r: number[]) => Math.sqrt(r.reduce((s, v, k) => s + Math.log(v / truth[k]) ** 2, 0) / 3);
      medianErr += err(ratios(sentence, target));
      matchedErr += err(ratios(withMatchedFormants(sentence, target, match), target));
      n++;
    }
  }
  medianErr /= n;
  matchedErr /= n;
  console.log(
    `# rms log error of the ratios: medians ${medianErr.toFixed(3)}, matched ${matchedErr.toFixed(3)}`,
  );
  assert.ok(matchedErr < 0.8 * medianErr, `matched ${matchedErr} against medians ${medianErr}`);
});

test('a short source converts with the matched ratios; an old target profile (no inventory) with the medians', async () => {
  const target = await profileOf('en-us+m3', CLONE_PASSAGE, 'passage');
  const src = await say('en+m1', SENTENCES[0], 's0');
  const sourceProfile = await engine.analyse(blocks(src));
  const match = engine.manifest.analysis.formantMatch;
  assert.ok(match);
  const matched = withMatchedFormants(sourceProfile, target, match);
  const { formantInventory: _t, ...oldTarget } = target;
  const { formantInventory: _s, ...oldSource } = sourceProfile;
  assert.notDeepEqual(matched.formants, sourceProfile.formants, 'the match moves the ratios');
  const options = { voice: target, sourceProfile, strength: 1 };
  const out = await convertAll(engine, src, options, [1, 4000, 333, 65536]);
  // The same as the medians' path handed the matched formants: the graph warps by the matched ratios.
  const asMatched = await convertWhole(engine, src, {
    voice: oldTarget,
    sourceProfile: { ...oldSource, formants: matched.formants },
    strength: 1,
  });
  const maxDiff = out.reduce((m, v, i) => Math.max(m, Math.abs(v - asMatched[i])), 0);
  assert.equal(out.length, src.length);
  assert.ok(maxDiff <= 1e-4, `chunked, matched vs whole, handed the matched formants: ${maxDiff}`);
  // An old target profile keeps today's behaviour: the medians' ratios, not refused.
  const old = await convertWhole(engine, src, { voice: oldTarget, sourceProfile, strength: 1 });
  const medians = await convertWhole(engine, src, {
    voice: oldTarget,
    sourceProfile: oldSource,
    strength: 1,
  });
  assert.deepEqual(old, medians);
  const moved = old.reduce((m, v, i) => Math.max(m, Math.abs(v - out[i])), 0);
  assert.ok(moved > 1e-3, `the matched ratios change the output (${moved})`);
});
