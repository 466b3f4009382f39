import { covarianceRoots, EnvelopeMoments } from './envelope-stats.js';
import { ExemplarBank } from './exemplar-bank.js';
import { FormantInventory } from './formant-match.js';
import {
  cepstrumEdge,
  cepstrumTable,
  type FormantTables,
  formantTables,
  frameCepstrum,
  frameFormants,
} from './voice-features.js';
import { CEPSTRA, type VoiceProfile } from './voice-profile.js';

/** Histogram resolution for F0: 5 cents (0.3 %) from 25 Hz up to 2 kHz keeps memory flat for any length. */
const CENTS_PER_BIN = 5;
const F0_FLOOR = 25;
const N_BINS = Math.ceil((1200 * Math.log2(2000 / F0_FLOOR)) / CENTS_PER_BIN);
/**
 * F0 moving slower than this (5 cents per 10 ms frame) between two consecutive voiced frames holds still:
 * a tone's or a hum's does in every pair, speech's in at most about a third (steadyPitchShare).
 */
const STILL_CENTS_PER_SECOND = 500;

export interface FrameBatch {
  f0: Float32Array;
  voicing: Float32Array;
  energy: Float32Array;
  /** frames x bins, row-major. */
  power: Float32Array;
  /** First and one-past-last frame of this batch that belong to the profile. */
  from: number;
  to: number;
}

export interface AccumulatorOptions {
  model: string;
  sampleRate: number;
  bins: number;
  frameHop: number;
  voicingThreshold: number;
  /** The voicing a frame needs to count in the F0 statistics; absent: voicingThreshold. */
  f0VoicingThreshold?: number;
  silenceDb: number;
  /** Where the envelope cepstra start (voice-features.ts cepstrumTable; the manifest's analysis.envelopeFromHz). */
  envelopeFromHz?: number;
  /** How many band cepstra the envelope statistics hold (the manifest's analysis.envelopeCepstra; default CEPSTRA). */
  envelopeCepstra?: number;
  /** Envelope exemplars to keep at most (the manifest's analysis.envelopeExemplars); absent: none. */
  envelopeExemplars?: number;
  /**
   * What beyond F0 and the long-term envelope to gather: formants and the envelope statistics (a voice's
   * profile, target or source), or nothing (in-pass measurements). Default 'all'.
   */
  details?: 'all' | 'none';
}

/** Formant histograms: 5 Hz bins up to 6 kHz. */
const FORMANT_HZ_PER_BIN = 5;
const FORMANT_BINS = 1200;
/**
 * Eigenvalues of the envelope covariance are floored at this share of the largest before its roots are
 * taken (envelope-stats.ts), so the source's least varying directions are not blown up by the mapping.
 */
const ENVELOPE_FLOOR_SHARE = 1e-3;
/** Envelope mapping classes: voiced frames and the others are mapped apart (envelope-stats.ts). */
export const ENVELOPE_CLASSES = 2;
/** About 0.5 s of frames: fewer give no covariance of 24 cepstra worth mapping by. */
const MIN_CLASS_FRAMES = 50;

/** The parts of a profile only a detailed accumulator gathers. */
class DetailAccumulator {
  readonly #cepTable: Float64Array;
  /** The held bin the cepstra start from (cepstrumEdge). */
  readonly #cepFrom: number;
  readonly #formant: FormantTables;
  readonly #hist = [0, 1, 2].map(() => new Float64Array(FORMANT_BINS));
  #formantFrames = 0;
  readonly #inventory = new FormantInventory();
  readonly #bins: number;
  /** Voiced frames' and the others' (ENVELOPE_CLASSES), and all of them. */
  readonly #moments: EnvelopeMoments[];
  readonly #pooled: EnvelopeMoments;
  readonly #cep: Float64Array;
  readonly #count: number;
  readonly #exemplars: ExemplarBank | null;

  constructor(bins: number, sampleRate: number, fromHz: number, count: number, exemplars = 0) {
    this.#bins = bins;
    this.#exemplars = exemplars > 0 ? new ExemplarBank(exemplars, count) : null;
    this.#count = count;
    this.#moments = Array.from({ length: ENVELOPE_CLASSES }, () => new EnvelopeMoments(count));
    this.#pooled = new EnvelopeMoments(count);
    this.#cep = new Float64Array(count);
    this.#cepTable = cepstrumTable(bins, sampleRate, fromHz, count);
    this.#cepFrom = cepstrumEdge(sampleRate / (2 * (bins - 1)), fromHz);
    this.#formant = formantTables(bins, sampleRate, fromHz);
  }

  /** A frame above the silence floor. */
  addFrame(power: Float32Array, row: number, voiced: boolean): void {
    if (voiced) {
      const f = frameFormants(power, row, this.#formant);
      if (f) {
        this.#formantFrames++;
        this.#inventory.add(f);
        for (let i = 0; i < 3; i++) {
          this.#hist[i][Math.min(FORMANT_BINS - 1, Math.floor(f[i] / FORMANT_HZ_PER_BIN))]++;
        }
      }
    }
    frameCepstrum(power, row, this.#bins, this.#cepTable, this.#cep, this.#cepFrom);
    this.#moments[voiced ? 0 : 1].add(this.#cep);
    this.#pooled.add(this.#cep);
    this.#exemplars?.add(this.#cep, voiced);
  }

  /** The exemplar rows (ExemplarBank), or null when none are kept. */
  exemplars(): number[] | null {
    return this.#exemplars?.rows() ?? null;
  }

  /**
   * The envelope mapping's statistics (envelope-stats.ts) per class (voiced frames, then the others): mean, covariance root and inverse root of the cepstra of every frame above the
   * silence floor, concatenated class after class. A class with fewer than MIN_CLASS_FRAMES frames (a
   * clone of sustained vowels has no unvoiced ones) takes all frames' statistics instead: an empty class's
   * would map its frames to a flat envelope.
   */
  envelopeStats(): {
    envelopeMean: number[];
    envelopeRoot: number[];
    envelopeInverseRoot: number[];
    envelopeFrames: number[];
  } {
    const out = {
      envelopeFrames: [] as number[],
      envelopeMean: [] as number[],
      envelopeRoot: [] as number[],
      envelopeInverseRoot: [] as number[],
    };
    for (const moments of this.#moments) {
      const used = moments.count >= MIN_CLASS_FRAMES ? moments : this.#pooled;
      const m = used.moments();
      out.envelopeFrames.push(used.count);
      const { root, inverseRoot } = covarianceRoots(m.covariance, this.#count, ENVELOPE_FLOOR_SHARE);
      out.envelopeMean.push(...m.mean);
      out.envelopeRoot.push(...root);
      out.envelopeInverseRoot.push(...inverseRoot);
    }
    return out;
  }

  /** F1..F3 of a sample of the voiced frames (formant-match.ts), [n][3] in Hz. */
  inventory(): number[] {
    return this.#inventory.entries();
  }

  /** Median F1..F3 in Hz, 0 where unknown. */
  formants(): number[] {
    return this.#hist.map((h) => {
      if (this.#formantFrames === 0) return 0;
      const goal = this.#formantFrames / 2;
      let seen = 0;
      for (let b = 0; b < FORMANT_BINS; b++) {
        if (seen + h[b] >= goal && h[b] > 0) return (b + (goal - seen) / h[b]) * FORMANT_HZ_PER_BIN;
        seen += h[b];
      }
      return 0;
    });
  }
}

/** Aggregates per-frame analysis into a VoiceProfile in constant memory. */
export class ProfileAccumulator {
  readonly #o: AccumulatorOptions;
  readonly #hist = new Float64Array(N_BINS);
  readonly #powerSum: Float64Array;
  readonly #silence: number;
  readonly #f0Threshold: number;
  readonly #details: DetailAccumulator | null;
  #frames = 0;
  #voiced = 0;
  /** Largest F0 move (cents) between consecutive frames that counts as holding still. */
  readonly #stillCents: number;
  /** The previous frame's F0 when it counted in the F0 statistics, else 0. */
  #lastF0 = 0;
  #pairs = 0;
  #stillPairs = 0;

  constructor(options: AccumulatorOptions) {
    this.#o = options;
    this.#details =
      options.details === 'none'
        ? null
        : new DetailAccumulator(
            options.bins,
            options.sampleRate,
            options.envelopeFromHz ?? 0,
            options.envelopeCepstra ?? CEPSTRA,
            options.envelopeExemplars ?? 0,
          );
    this.#powerSum = new Float64Array(options.bins);
    this.#silence = 10 ** (options.silenceDb / 10);
    this.#f0Threshold = options.f0VoicingThreshold ?? options.voicingThreshold;
    this.#stillCents = (STILL_CENTS_PER_SECOND * options.frameHop) / options.sampleRate;
  }

  add(batch: FrameBatch): void {
    const nb = this.#o.bins;
    const power = batch.power;
    const sum = this.#powerSum;
    for (let i = batch.from; i < batch.to; i++) {
      this.#frames++;
      const row = i * nb;
      for (let k = 0; k < nb; k++) {
        const v = power[row + k];
        // v - v is 0 exactly when v is finite (NaN and +-Inf give NaN): non-finite power counts as 0.
        sum[k] += v - v === 0 ? v : 0;
      }
      const f0 = batch.f0[i];
      const loud = batch.energy[i] >= this.#silence;
      const pitched = loud && f0 > F0_FLOOR && Number.isFinite(f0);
      const voicing = batch.voicing[i];
      if (loud && this.#details) {
        this.#details.addFrame(power, row, pitched && voicing >= this.#o.voicingThreshold);
      }
      const last = this.#lastF0;
      this.#lastF0 = 0;
      if (!(pitched && voicing >= this.#f0Threshold)) continue;
      const bin = Math.floor((1200 * Math.log2(f0 / F0_FLOOR)) / CENTS_PER_BIN);
      if (bin < N_BINS) {
        this.#hist[bin]++;
        this.#voiced++;
        this.#lastF0 = f0;
        if (last > 0) {
          this.#pairs++;
          if (Math.abs(1200 * Math.log2(f0 / last)) < this.#stillCents) this.#stillPairs++;
        }
      }
    }
  }

  /**
   * Of the pairs of consecutive frames that both count in the F0 statistics, the share whose F0 moves
   * slower than STILL_CENTS_PER_SECOND; null without such a pair. Speech's F0 moves all the time
   * (intonation, jitter): at most about a third of its pairs hold still (40 LibriSpeech speakers, espeak-ng
   * voices), while a tone, two tones, a hum or a beep hold still in nearly all of theirs.
   */
  get steadyPitchShare(): number | null {
    return this.#pairs === 0 ? null : this.#stillPairs / this.#pairs;
  }

  #percentile(p: number): number | null {
    if (this.#voiced === 0) return null;
    const goal = p * this.#voiced;
    let seen = 0;
    for (let b = 0; b < N_BINS; b++) {
      if (seen + this.#hist[b] >= goal && this.#hist[b] > 0) {
        // Interpolate inside the bin so the median is not quantised to 5 cents.
        const frac = (goal - seen) / this.#hist[b];
        return F0_FLOOR * 2 ** (((b + frac) * CENTS_PER_BIN) / 1200);
      }
      seen += this.#hist[b];
    }
    return null;
  }

  finish(label?: string): VoiceProfile {
    const o = this.#o;
    const frames = Math.max(1, this.#frames);
    const round = (v: number, digits: number): number => Number(v.toFixed(digits));
    const hz = (v: number | null): number | null => (v === null ? null : round(v, 2));
    const seconds = (n: number): number => round((n * o.frameHop) / o.sampleRate, 3);
    const stats = this.#details?.envelopeStats();
    const exemplars = this.#details?.exemplars() ?? null;
    const r6 = (v: number): number => Number(v.toPrecision(6));
    return {
      format: 'vcfarm-voice/1',
      model: o.model,
      sampleRate: o.sampleRate,
      f0Median: hz(this.#percentile(0.5)),
      f0P10: hz(this.#percentile(0.1)),
      f0P90: hz(this.#percentile(0.9)),
      voicedSeconds: seconds(this.#voiced),
      durationSeconds: seconds(this.#frames),
      // Floor at 1e-10 (-100 dB) so silence gives a finite, flat envelope.
      envelope: Array.from(this.#powerSum, (s) => round(Math.log(s / frames + 1e-10), 4)),
      ...(this.#details === null
        ? {}
        : {
            formants: this.#details.formants().map((v) => round(v, 1)),
            formantInventory: this.#details.inventory().map((v) => Math.round(v)),
            ...(stats === undefined
              ? {}
              : {
                  envelopeMean: stats.envelopeMean.map(r6),
                  envelopeRoot: stats.envelopeRoot.map(r6),
                  envelopeInverseRoot: stats.envelopeInverseRoot.map(r6),
                  envelopeFrames: stats.envelopeFrames,
                  ...(o.envelopeFromHz ? { envelopeFromHz: o.envelopeFromHz } : {}),
                  ...((o.envelopeCepstra ?? CEPSTRA) !== CEPSTRA
                    ? { envelopeCepstra: o.envelopeCepstra }
                    : {}),
                  ...(exemplars && exemplars.length > 0 ? { envelopeExemplars: exemplars } : {}),
                }),
          }),
      ...(label === undefined ? {} : { label }),
    };
  }
}
