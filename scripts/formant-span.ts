import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { blocks } from '../test/helpers/audio-io.js';
import { Judge } from '../test/helpers/judge.js';
import { firstPart, PcmCache } from '../test/helpers/librispeech.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

/**
 * What real speakers' formants span (issue 10: are the warp's ratio limits right?). For each of the 40
 * LibriSpeech speakers: F1..F3 of the voice profile cloned from the first 60 % (the model's LPC), and the
 * judge's LPC on the clone part and on the held-out part; then, over every ordered pair of speakers, the
 * range of the target / source ratio of each formant by the profiles (what the warp would be asked), and
 * how far each speaker's own two parts lie apart (the judge's ceiling).
 *   node dist/scripts/formant-span.js [--model DIR]
 */
const { values } = parseArgs({ options: { model: { type: 'string' } } });
const modelDir = resolve(values.model ?? new URL('../../models/default/', import.meta.url).pathname);
const work = await mkdtemp(join(tmpdir(), 'vcfarm-formant-span-'));
const engine = await VoiceConversionEngine.load(modelDir);
const fmt = (v: readonly number[]) => v.map((x) => x.toFixed(0).padStart(4)).join('/');
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
try {
  const cache = new PcmCache(work);
  const judge = await Judge.create(cache);
  const rows: { id: string; gender: string; profile: number[] }[] = [];
  console.log('speaker gender  profile F1-3     judge clone      judge held    clone/held worst');
  for (const s of judge.speakers) {
    const clone = await cache.resample(firstPart(judge.speech(s.id)), 16000, engine.sampleRate);
    const profile = (await engine.analyse(blocks(clone))).formants;
    if (!profile) throw new Error(`no formants for ${s.id}`);
    const c = judge.measures(s.id, 'clone').formants;
    const h = judge.measures(s.id, 'held').formants;
    const cl = [c.f1, c.f2, c.f3];
    const he = [h.f1, h.f2, h.f3];
    const apart = Math.max(...cl.map((v, i) => Math.abs(he[i] / v - 1)));
    rows.push({ id: s.id, gender: s.gender, profile: [...profile] });
    console.log(
      [s.id.padEnd(7), s.gender.padEnd(7), fmt(profile), fmt(cl), fmt(he), pct(apart).padStart(7)].join('  '),
    );
  }
  for (let k = 0; k < 3; k++) {
    const ratios: number[] = [];
    for (const a of rows) for (const b of rows) if (a !== b) ratios.push(b.profile[k] / a.profile[k]);
    ratios.sort((x, y) => x - y);
    const q = (p: number) => ratios[Math.min(ratios.length - 1, Math.floor(p * ratios.length))].toFixed(3);
    const byGender = (g: string) => {
      const v = rows.filter((r) => r.gender === g).map((r) => r.profile[k]);
      return `${g} ${Math.min(...v).toFixed(0)}..${Math.max(...v).toFixed(0)} Hz`;
    };
    console.log(
      `F${k + 1} ratio target/source over ${ratios.length} pairs: min ${q(0)} p5 ${q(0.05)} p50 ${q(0.5)} p95 ${q(0.95)} max ${ratios[ratios.length - 1].toFixed(3)}; ${byGender('male')}, ${byGender('female')}`,
    );
  }
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
}
