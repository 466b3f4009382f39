import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { blocks, concat } from '../test/helpers/audio-io.js';
import { type Converter, JUDGE_PAIRS, Judge } from '../test/helpers/judge.js';
import { PcmCache } from '../test/helpers/librispeech.js';
import type { Formants } from '../test/helpers/voice-measures.js';
import { VoiceConversionEngine, type VoiceProfile } from '../workers/engine/index.js';

/**
 * What the profiles ask of a conversion against what the judge measures (issue 10), per conversion:
 *  - F0: the output's median (judge's YIN) against the clone part's (YIN on the audio the voice was cloned
 *    from, the model's aim) and against the target's held-out part (the judge's bar); the profiles' medians
 *    (the model's tracker: source's, target's clone part, and the output's own by the same tracker) and the
 *    ratio they ask against the ratio the output shows by YIN (output / source), which tells the profile's
 *    statistics and the tracker from the synthesis;
 *  - formants: the vocal-tract ratio the warp asks (geometric mean of target / source F1..F3 by the
 *    profiles' LPC, before the 0.75..1.35 clamp), the same ratio by the judge's LPC (source's whole
 *    utterance, target's clone part), and the ratio the output shows (output / source, judge's LPC), and
 *    the output's largest F1..F3 error against the target's held-out part (the judge's 8 % bar).
 *   node dist/scripts/profile-audit.js [--model DIR] [--pairs 0,3,8-11]
 */
const { values } = parseArgs({ options: { model: { type: 'string' }, pairs: { type: 'string' } } });
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const picked = values.pairs
  ? values.pairs.split(',').flatMap((part) => {
      const [from, to = from] = part.split('-').map(Number);
      return Array.from({ length: to - from + 1 }, (_, i) => JUDGE_PAIRS[from + i]);
    })
  : JUDGE_PAIRS;

const geo = (a: readonly number[], b: readonly number[]): number =>
  Math.exp((Math.log(a[0] / b[0]) + Math.log(a[1] / b[1]) + Math.log(a[2] / b[2])) / 3);
const list = (f: Formants): number[] => [f.f1, f.f2, f.f3];
const pct = (v: number) => `${(v * 100).toFixed(1)}%`.padStart(7);
const fmt = (v: readonly number[]) => v.map((x) => x.toFixed(0)).join('/');

const work = await mkdtemp(join(tmpdir(), 'vcfarm-profile-audit-'));
const engine = await VoiceConversionEngine.load(modelDir);
try {
  const judge = await Judge.create(new PcmCache(work));
  let profiles: { voice: VoiceProfile; source: VoiceProfile; output: VoiceProfile } | undefined;
  const convert: Converter = async ({ source, clone, sampleRate }) => {
    const voice = await engine.analyse(blocks(clone));
    const sourceProfile = await engine.analyse(blocks(source));
    const out: Float32Array[] = [];
    for await (const b of engine.convert(blocks(source), { voice, sourceProfile, strength: 1 })) out.push(b);
    const pcm = concat(out);
    profiles = { voice, source: sourceProfile, output: await engine.analyse(blocks(pcm)) };
    return { pcm, sampleRate };
  };
  console.log(
    'pair        F0 clone/out/held   out-clone out-held  prof src/tgt/out asked shown | warp asked(prof) judge out/src | prof src F1-3  prof tgt F1-3  judge src F1-3  judge tgtC  judge tgtH   output      err',
  );
  const errors: number[] = [];
  for (const pair of picked) {
    const v = await judge.judge(pair, convert, engine.sampleRate);
    if (!profiles?.voice.formants || !profiles.source.formants) throw new Error('profiles without formants');
    const clone = judge.f0(pair.target, 'clone');
    const cloneFormants = judge.measures(pair.target, 'clone').formants;
    const asked = geo(profiles.voice.formants, profiles.source.formants);
    const judged = geo(list(cloneFormants), list(v.formants.source));
    const shown = geo(list(v.formants.output), list(v.formants.source));
    errors.push(v.f0.output / clone - 1);
    console.log(
      [
        `${pair.source}->${pair.target}`.padEnd(11),
        `${clone.toFixed(0)}/${v.f0.output.toFixed(0)}/${v.f0.target.toFixed(0)}`.padStart(12),
        pct(v.f0.output / clone - 1),
        pct(v.f0.error),
        [profiles.source, profiles.voice, profiles.output]
          .map((p) => (p.f0Median ?? 0).toFixed(0))
          .join('/')
          .padStart(13),
        ((profiles.voice.f0Median ?? 0) / (profiles.source.f0Median ?? 1)).toFixed(3),
        (v.f0.output / v.f0.source).toFixed(3),
        ' |',
        asked.toFixed(3),
        judged.toFixed(3),
        shown.toFixed(3),
        ' |',
        fmt(profiles.source.formants).padStart(14),
        fmt(profiles.voice.formants).padStart(14),
        fmt(list(v.formants.source)).padStart(14),
        fmt(list(cloneFormants)).padStart(14),
        fmt(list(v.formants.target)).padStart(14),
        fmt(list(v.formants.output)).padStart(14),
        pct(v.formantError),
      ].join(' '),
    );
  }
  const worst = Math.max(...errors.map(Math.abs));
  console.log(`F0 of the output against the clone part's (YIN): worst ${pct(worst).trim()}`);
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
