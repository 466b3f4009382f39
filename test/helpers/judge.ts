// The independent judge of voice identity (issue 10): clones a LibriSpeech speaker from the first 60 % of
// their utterance, converts another speaker's utterance toward it, and measures the output against the
// target's last 40 % (audio the conversion never saw) with the measures of voice-measures.ts and the
// speaker-identification judge of speaker-id.ts. Used by test/engine/quality.test.ts and
// scripts/judge-voices.ts; it runs a conversion through a callback, so it imports nothing of the engine.

import pLimit from 'p-limit';
import { filterPcm } from './audio-io.js';
import { median } from './audio-metrics.js';
import { CLONE_SHARE, firstPart, lastPart, type PcmCache, type Speaker, speakers } from './librispeech.js';
import { enrol, identify, type SpeakerModel } from './speaker-id.js';
import {
  cepstralEnvelopes,
  type EnvelopeTrack,
  envelopeDistanceDb,
  envelopeDynamicsCorrelation,
  envelopeTrackOf,
  type Formants,
  formantDifference,
  formantError,
  MEASURE_RATE,
  meanEnvelopeDb,
  medianFormants,
  voicing,
} from './voice-measures.js';

export type PairKind = 'M->F' | 'F->M' | 'M->M' | 'F->F';

export interface Pair {
  source: string;
  target: string;
}

/** The measures of one recording (16 kHz). */
export interface VoiceMeasures {
  /** Median F0 (Hz) over voiced frames. */
  f0: number;
  formants: Formants;
  /** Mean cepstral envelope (meanEnvelopeDb). */
  envelope: Float64Array;
  /** Frame-to-frame envelope changes (envelopeTrack). */
  track: EnvelopeTrack;
}

export function measureVoice(pcm: Float32Array): VoiceMeasures {
  const voiced = voicing(pcm, MEASURE_RATE);
  const envelopes = cepstralEnvelopes(pcm, MEASURE_RATE);
  return {
    f0: median(voiced.f0),
    formants: medianFormants(pcm, MEASURE_RATE, { voicedTimes: voiced.time }),
    envelope: meanEnvelopeDb(pcm, MEASURE_RATE, envelopes),
    track: envelopeTrackOf(envelopes),
  };
}

/** What a conversion under test returns: its output at `sampleRate`. */
export interface Conversion {
  pcm: Float32Array;
  sampleRate: number;
}

/**
 * A conversion to judge: `source` is the source's whole utterance, `clone` the first 60 % of the target's,
 * both at `sampleRate` (the converter's rate; LibriSpeech is 16 kHz, so nothing above 8 kHz is in them).
 */
export type Converter = (input: {
  source: Float32Array;
  clone: Float32Array;
  sampleRate: number;
  pair: Pair;
}) => Promise<Conversion>;

export interface Identity {
  pair: Pair;
  /** The judge's top-1 speaker for the output (its first 60 %, which no enrolment contains). */
  identifiedAs: string;
  asTarget: boolean;
  asSource: boolean;
}

export interface Verdict extends Identity {
  kind: PairKind;
  /** Mean relative F1-F3 difference between source and target (held-out part). */
  formantGap: number;
  /** Largest relative F1-F3 error of the output against the target's held-out part. */
  formantError: number;
  formants: { source: Formants; target: Formants; output: Formants };
  envelope: { before: number; after: number; cut: number };
  /** Frame-to-frame envelope-change correlation, output vs source. */
  dynamics: number;
  f0: { source: number; target: number; output: number; error: number };
  peakDbfs: number;
  /** Output samples minus input samples (at the converter's rate). */
  lengthDelta: number;
  finite: boolean;
}

/**
 * The 30 conversions: 8 male->female, 8 female->male, 7 male->male, 7 female->female. Speakers 1334 and
 * 2007 are never targets (the judge itself confuses their two halves with another speaker).
 */
export const JUDGE_PAIRS: readonly Pair[] = [
  // M->F
  { source: '2159', target: '198' },
  { source: '1235', target: '1578' },
  { source: '2136', target: '125' },
  { source: '2289', target: '1246' },
  { source: '2514', target: '150' },
  { source: '1081', target: '1116' },
  { source: '2691', target: '1992' },
  { source: '1867', target: '1970' },
  // F->M
  { source: '198', target: '2159' },
  { source: '1578', target: '1235' },
  { source: '125', target: '2136' },
  { source: '1246', target: '2289' },
  { source: '150', target: '2514' },
  { source: '1992', target: '2691' },
  { source: '1970', target: '1867' },
  { source: '1098', target: '1040' },
  // M->M
  { source: '1867', target: '1235' },
  { source: '1263', target: '2159' },
  { source: '2136', target: '2691' },
  { source: '2289', target: '2514' },
  { source: '1081', target: '2002' },
  { source: '229', target: '1263' },
  { source: '163', target: '2436' },
  // F->F
  { source: '1992', target: '198' },
  { source: '198', target: '1578' },
  { source: '125', target: '1992' },
  { source: '1246', target: '150' },
  { source: '150', target: '1246' },
  { source: '1069', target: '1116' },
  { source: '2092', target: '1737' },
];

/**
 * The formant pairs (male->female, female->male, two same-gender): targets whose two halves agree on
 * F1-F3 within 8 % and on F0 within 4 % (so the measure is stable on them), sources whose formants differ
 * from the target's by >= 10 %. Tests assert both.
 */
export const FORMANT_PAIRS: readonly Pair[] = [
  { source: '2159', target: '198' },
  { source: '198', target: '2159' },
  { source: '1867', target: '1235' },
  { source: '1992', target: '198' },
];

function peak(pcm: Float32Array): number {
  let p = 0;
  for (const v of pcm) p = Math.max(p, Math.abs(v));
  return 20 * Math.log10(p);
}

export class Judge {
  readonly #cache: PcmCache;
  readonly #speakers: Map<string, Speaker>;
  readonly #speech: Map<string, Float32Array>;
  #models: SpeakerModel[] | undefined;
  readonly #measures = new Map<string, VoiceMeasures>();
  readonly #f0 = new Map<string, number>();

  private constructor(cache: PcmCache, list: Speaker[], speech: Map<string, Float32Array>) {
    this.#cache = cache;
    this.#speakers = new Map(list.map((s) => [s.id, s]));
    this.#speech = speech;
  }

  /**
   * Decodes the 40 LibriSpeech speakers (two ffmpeg processes at a time); they are enrolled in the
   * speaker-identification judge when it is first asked.
   */
  static async create(cache: PcmCache): Promise<Judge> {
    const list = speakers();
    const limit = pLimit(2);
    const decoded = await Promise.all(list.map((s) => limit(() => cache.decode(s.file, MEASURE_RATE))));
    return new Judge(cache, list, new Map(list.map((s, i) => [s.id, decoded[i]])));
  }

  /** The enrolled speakers, enrolled from their last 40 % (the part no voice is cloned from) at first use. */
  #enrolled(): SpeakerModel[] {
    this.#models ??= enrol(this.speakers.map((s) => ({ speaker: s.id, pcm: lastPart(this.speech(s.id)) })));
    return this.#models;
  }

  get speakers(): Speaker[] {
    return [...this.#speakers.values()];
  }

  speaker(id: string): Speaker {
    const s = this.#speakers.get(id);
    if (!s) throw new Error(`no LibriSpeech speaker ${id}`);
    return s;
  }

  /** A speaker's whole utterance at 16 kHz. */
  speech(id: string): Float32Array {
    const pcm = this.#speech.get(id);
    if (!pcm) throw new Error(`no LibriSpeech speaker ${id}`);
    return pcm;
  }

  /** Measures of a speaker's `part` ('clone' = first 60 %, 'held' = last 40 %, 'all'), memoised. */
  measures(id: string, part: 'clone' | 'held' | 'all'): VoiceMeasures {
    const key = `${id}/${part}`;
    let m = this.#measures.get(key);
    if (!m) {
      const pcm = this.speech(id);
      m = measureVoice(part === 'clone' ? firstPart(pcm) : part === 'held' ? lastPart(pcm) : pcm);
      this.#measures.set(key, m);
    }
    return m;
  }

  /** Median F0 of a speaker's part (as in measures(), without the rest), memoised. */
  f0(id: string, part: 'clone' | 'held' | 'all'): number {
    const key = `${id}/${part}`;
    const cached = this.#measures.get(key)?.f0 ?? this.#f0.get(key);
    if (cached !== undefined) return cached;
    const pcm = this.speech(id);
    const f0 = median(
      voicing(part === 'clone' ? firstPart(pcm) : part === 'held' ? lastPart(pcm) : pcm, MEASURE_RATE).f0,
    );
    this.#f0.set(key, f0);
    return f0;
  }

  /** The judge's ranking of speakers for 16 kHz audio (closest first). */
  identify(pcm: Float32Array): { speaker: string; score: number }[] {
    return identify(this.#enrolled(), pcm);
  }

  kind(pair: Pair): PairKind {
    const g = (id: string) => (this.speaker(id).gender === 'male' ? 'M' : 'F');
    return `${g(pair.source)}->${g(pair.target)}` as PairKind;
  }

  /** Runs `convert` on `pair` and identifies its output's speaker (nothing else is measured). */
  async identifyConversion(pair: Pair, convert: Converter, sampleRate: number): Promise<Identity> {
    const { out16 } = await this.#convert(pair, convert, sampleRate);
    const identifiedAs = this.identify(firstPart(out16, CLONE_SHARE))[0].speaker;
    return {
      pair,
      identifiedAs,
      asTarget: identifiedAs === pair.target,
      asSource: identifiedAs === pair.source,
    };
  }

  async #convert(
    pair: Pair,
    convert: Converter,
    sampleRate: number,
  ): Promise<{ source: Float32Array; out: Conversion; out16: Float32Array }> {
    const source = await this.#cache.resample(this.speech(pair.source), MEASURE_RATE, sampleRate);
    const clone = await this.#cache.resample(firstPart(this.speech(pair.target)), MEASURE_RATE, sampleRate);
    const out = await convert({ source, clone, sampleRate, pair });
    const out16 = await this.#cache.resample(out.pcm, out.sampleRate, MEASURE_RATE);
    return { source, out, out16 };
  }

  /** Runs `convert` on `pair` and measures its output. */
  async judge(pair: Pair, convert: Converter, sampleRate: number): Promise<Verdict> {
    const { source, out, out16 } = await this.#convert(pair, convert, sampleRate);
    return this.#verdict(pair, source, out, out16);
  }

  #verdict(pair: Pair, source: Float32Array, out: Conversion, out16: Float32Array): Verdict {
    const src = this.measures(pair.source, 'all');
    const tgt = this.measures(pair.target, 'held');
    const o = measureVoice(out16);
    const before = envelopeDistanceDb(src.envelope, tgt.envelope);
    const after = envelopeDistanceDb(o.envelope, tgt.envelope);
    const identifiedAs = this.identify(firstPart(out16, CLONE_SHARE))[0].speaker;
    return {
      pair,
      kind: this.kind(pair),
      identifiedAs,
      asTarget: identifiedAs === pair.target,
      asSource: identifiedAs === pair.source,
      formantGap: formantDifference(src.formants, tgt.formants),
      formantError: formantError(o.formants, tgt.formants),
      formants: { source: src.formants, target: tgt.formants, output: o.formants },
      envelope: { before, after, cut: 1 - after / before },
      dynamics: envelopeDynamicsCorrelation(src.track, o.track),
      f0: { source: src.f0, target: tgt.f0, output: o.f0, error: o.f0 / tgt.f0 - 1 },
      peakDbfs: peak(out.pcm),
      lengthDelta: out.pcm.length - source.length,
      finite: out.pcm.every((v) => Number.isFinite(v)),
    };
  }

  /**
   * The baseline: a plain formant-preserving pitch shift of the source to the target's median F0 (clone
   * part), ffmpeg's rubberband at its quality setting, at 16 kHz.
   */
  pitchShift(): { convert: Converter; sampleRate: number } {
    const convert: Converter = async ({ source, pair }) => {
      const ratio = this.f0(pair.target, 'clone') / this.f0(pair.source, 'all');
      const filter = `rubberband=pitch=${ratio.toFixed(6)}:formant=preserved:pitchq=quality`;
      return { pcm: await filterPcm(source, { sampleRate: MEASURE_RATE, filter }), sampleRate: MEASURE_RATE };
    };
    return { convert, sampleRate: MEASURE_RATE };
  }
}

export interface Totals {
  conversions: number;
  asTarget: number;
  asSource: number;
  /** Conversions whose largest formant error is within 8 %. */
  formantsWithin8: number;
  medianFormantError: number;
  medianEnvelopeCut: number;
  minDynamics: number;
  medianDynamics: number;
  maxAbsF0Error: number;
  maxPeakDbfs: number;
  lengthMismatches: number;
  nonFinite: number;
}

export function totals(verdicts: readonly Verdict[]): Totals {
  return {
    conversions: verdicts.length,
    asTarget: verdicts.filter((v) => v.asTarget).length,
    asSource: verdicts.filter((v) => v.asSource).length,
    formantsWithin8: verdicts.filter((v) => v.formantError <= 0.08).length,
    medianFormantError: median(verdicts.map((v) => v.formantError)),
    medianEnvelopeCut: median(verdicts.map((v) => v.envelope.cut)),
    minDynamics: Math.min(...verdicts.map((v) => v.dynamics)),
    medianDynamics: median(verdicts.map((v) => v.dynamics)),
    maxAbsF0Error: Math.max(...verdicts.map((v) => Math.abs(v.f0.error))),
    maxPeakDbfs: Math.max(...verdicts.map((v) => v.peakDbfs)),
    lengthMismatches: verdicts.filter((v) => v.lengthDelta !== 0).length,
    nonFinite: verdicts.filter((v) => !v.finite).length,
  };
}
