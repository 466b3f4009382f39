import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { median, yinTrack } from '../helpers/audio-metrics.js';
import { independentF0 } from '../helpers/f0-independent.js';
import { firstPart, PcmCache, speakers } from '../helpers/librispeech.js';
import { MEASURE_RATE, voicing } from '../helpers/voice-measures.js';

// The judge's F0 (voice-measures.ts `voicing`: YIN and its voicing gates) checked against an estimator that
// shares no code with it (f0-independent.ts: subharmonic summation and the real cepstrum, blind below
// 250 Hz), on the 40 LibriSpeech speakers' clone parts (the first 60 %, which a voice is made from and the
// quality tests hold the output's F0 against). The independent median is taken over the judge's voiced
// frames where the estimator's two methods agree, so a frame the judge counts as voice that holds no voice
// above 250 Hz (a pause with mains buzz or rumble) moves only the judge's median. With YIN's gate alone
// (30 dB under the loudest frame) four speakers were off: 1235 +12.5 % (a 120 Hz buzz in its pauses),
// 103 -68 %, 163 -28 %, 233 -10 % (pause frames YIN reads far below the voice); the gate against the recording's own
// noise floor brings every one but 163 within 5 %.

const SR = MEASURE_RATE;
/** The tolerance on every speaker but 163 (today's worst, 2691: -5.0 %; 163: -10.5 %). */
const TOLERANCE = 0.06;
/**
 * Speaker 163's phrase ends fall to 65-95 Hz in dark, creaky voice (little above 250 Hz): the judge reads
 * them as voice (their contours run on smoothly from the phrase), the independent estimator finds too little
 * above 250 Hz to confirm them, so its median over 163's frames is the higher. Its bound is wider; the judge
 * with YIN's gate alone was 28 % off it.
 */
const LOOSE: ReadonlyMap<string, number> = new Map([['163', 0.12]]);

let work: string;
let cache: PcmCache;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-judge-f0-'));
  cache = new PcmCache(work);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Sum of the harmonics of `f0` (equal amplitude) up to 4 kHz, `seconds` long. */
function harmonics(f0: number, seconds: number, from = 1): Float32Array {
  const pcm = new Float32Array(Math.round(seconds * SR));
  for (let h = from; h * f0 < 4000; h++)
    for (let i = 0; i < pcm.length; i++) pcm[i] += 0.02 * Math.sin((2 * Math.PI * h * f0 * i) / SR);
  return pcm;
}

test('the independent estimator: a harmonic tone at its F0, a 120 Hz buzz (harmonics 1-2) not voiced', () => {
  for (const f0 of [70, 110, 190, 280]) {
    const track = independentF0(harmonics(f0, 1), SR);
    assert.ok(track.f0.length > 0.9 * track.frames, `${f0} Hz: ${track.f0.length} of ${track.frames} voiced`);
    const m = median(track.f0);
    assert.ok(Math.abs(m / f0 - 1) < 0.01, `${f0} Hz read as ${m.toFixed(1)} Hz`);
  }
  // The buzz of speaker 1235's pauses: 120 Hz and its second harmonic, nothing above 250 Hz but noise.
  const buzz = new Float32Array(SR);
  let seed = 1;
  for (let i = 0; i < buzz.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const noise = (seed / 2 ** 31 - 0.5) * 1e-3;
    buzz[i] =
      0.003 * Math.sin((2 * Math.PI * 120 * i) / SR) + 0.006 * Math.sin((2 * Math.PI * 240 * i) / SR) + noise;
  }
  const track = independentF0(buzz, SR);
  assert.ok(
    track.f0.length < 0.1 * track.frames,
    `buzz: ${track.f0.length} of ${track.frames} frames voiced`,
  );
  // YIN alone (the judge's tracker without its noise-floor gate) does call the buzz voice, at 120 Hz.
  const yin = yinTrack(buzz, SR, { threshold: 0.2 });
  assert.ok(yin.f0.length > 50, `YIN: ${yin.f0.length} buzz frames voiced`);
  assert.ok(
    Math.abs(median(yin.f0) / 120 - 1) < 0.03,
    `YIN reads the buzz at ${median(yin.f0).toFixed(1)} Hz`,
  );
});

test("the judge's median F0 over the 40 clone parts agrees with the independent estimator's on its voiced frames", async () => {
  const misses: string[] = [];
  const lines: string[] = [];
  for (const s of speakers()) {
    const pcm = firstPart(await cache.decode(s.file, SR));
    const judged = voicing(pcm, SR);
    const independent = independentF0(pcm, SR);
    const byFrame = new Map(independent.time.map((t, i) => [Math.round(t * 100), independent.f0[i]]));
    const confirmed = judged.time.flatMap((t) => byFrame.get(Math.round(t * 100)) ?? []);
    assert.ok(confirmed.length >= 30, `${s.id}: ${confirmed.length} of the judge's frames confirmed`);
    const error = median(judged.f0) / median(confirmed) - 1;
    const bound = LOOSE.get(s.id) ?? TOLERANCE;
    const line = `${s.id} ${median(judged.f0).toFixed(1)}/${median(confirmed).toFixed(1)} Hz ${(error * 100).toFixed(1)} %`;
    lines.push(line);
    if (Math.abs(error) > bound) misses.push(`${line} (bound ${bound * 100} %)`);
  }
  console.log(`# judge/independent median F0 per clone part: ${lines.join(', ')}`);
  assert.deepEqual(misses, []);
});
