/**
 * Source -> target formant ratios by matching frames rather than medians. A short source's median F1..F3
 * follow its words (one espeak-ng sentence read 473/1213/2526 Hz where the same voice's other sentences read
 * 352/1435/2457), so the ratio of the medians asks for moves the two voices do not differ by. Here the
 * target's profile keeps an inventory of its voiced frames' formants, and the ratios are those that best lay
 * the source's frames onto their nearest target frames: an iterative closest point fit of one translation in
 * log-formant space (warp, match each source frame to its nearest target entry, re-estimate), so a sentence
 * with few vowel kinds is matched to those vowels only.
 */

import { FORMANT_INVENTORY_FRAMES } from './voice-profile.js';

/**
 * An evenly spaced sample of a stream's frames' F1..F3 in bounded memory: every `stride`-th frame, the
 * stride doubling (and every other entry dropped) whenever the store is full.
 */
export class FormantInventory {
  readonly #cap: number;
  #entries: number[] = [];
  #stride = 1;
  #seen = 0;

  constructor(cap = FORMANT_INVENTORY_FRAMES) {
    this.#cap = cap;
  }

  add(f: readonly number[]): void {
    if (this.#seen++ % this.#stride !== 0) return;
    if (this.#entries.length >= 3 * this.#cap) {
      this.#entries = this.#entries.filter((_, i) => Math.floor(i / 3) % 2 === 0);
      this.#stride *= 2;
      if ((this.#seen - 1) % this.#stride !== 0) return;
    }
    this.#entries.push(f[0], f[1], f[2]);
  }

  /** [n][3] row-major, Hz. */
  entries(): number[] {
    return this.#entries.slice();
  }
}

export interface FormantMatchOptions {
  /** Where the fit starts: the ratio of the medians, or their geometric mean for all three. */
  start: 'medians' | 'uniform';
  /** Most iterations (it stops earlier once the move is under 0.01 %). */
  iterations: number;
  /** Share of the source frames, the farthest from their match, left out of each re-estimate (0..0.9). */
  trim: number;
  /** Distances with each log formant over the target inventory's spread of it (else in plain log Hz). */
  standardise?: boolean;
  /**
   * Sources this long (analysed seconds) or longer keep the medians' ratios; below, the matched ratios weigh
   * (in log) from fully at 0 s to nothing at this length, as the envelope prior fades. Absent: fully at any length.
   */
  fadeSeconds?: number;
}

export const FORMANT_MATCH_DEFAULTS: FormantMatchOptions = { start: 'uniform', iterations: 30, trim: 0.2 };

/** Log F1..F3 of every whole, positive entry. */
function logs(inventory: readonly number[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i + 2 < inventory.length; i += 3) {
    const f = [inventory[i], inventory[i + 1], inventory[i + 2]];
    if (f.every((v) => v > 0 && Number.isFinite(v))) out.push(f.map(Math.log));
  }
  return out;
}

/** Per log formant, 1 over its spread (standard deviation) over `y`. */
function weights(y: readonly number[][]): number[] {
  return [0, 1, 2].map((k) => {
    const m = y.reduce((s, v) => s + v[k], 0) / y.length;
    const sd = Math.sqrt(y.reduce((s, v) => s + (v[k] - m) ** 2, 0) / y.length);
    return sd > 1e-6 ? 1 / sd ** 2 : 1;
  });
}

/** The nearest of `to` to `x + t` (squared distances weighted by `w`) and its offset from it. */
function nearest(
  x: readonly number[],
  t: readonly number[],
  to: readonly number[][],
  w: readonly number[],
): [number, number[]] {
  let best = Number.POSITIVE_INFINITY;
  let at = to[0];
  for (const y of to) {
    const d =
      w[0] * (y[0] - x[0] - t[0]) ** 2 + w[1] * (y[1] - x[1] - t[1]) ** 2 + w[2] * (y[2] - x[2] - t[2]) ** 2;
    if (d < best) {
      best = d;
      at = y;
    }
  }
  return [best, [at[0] - x[0] - t[0], at[1] - x[1] - t[1], at[2] - x[2] - t[2]]];
}

/**
 * Target-over-source ratios of F1, F2, F3 that best align the source's frames to their nearest target
 * frames (see above), starting from the medians' ratios `medians` (target over source), or null when either
 * inventory holds fewer than `minFrames` frames.
 */
export function matchFormantRatios(
  source: readonly number[],
  target: readonly number[],
  medians: readonly number[],
  options: FormantMatchOptions = FORMANT_MATCH_DEFAULTS,
  minFrames = 10,
): number[] | null {
  const x = logs(source);
  const y = logs(target);
  if (x.length < minFrames || y.length < minFrames || !medians.every((r) => r > 0 && Number.isFinite(r)))
    return null;
  const start = medians.map(Math.log);
  const uniform = (start[0] + start[1] + start[2]) / 3;
  const t = options.start === 'uniform' ? [uniform, uniform, uniform] : start;
  const w = options.standardise ? weights(y) : [1, 1, 1];
  const keep = Math.max(1, Math.round(x.length * (1 - Math.min(0.9, Math.max(0, options.trim)))));
  for (let it = 0; it < options.iterations; it++) {
    const matched = x.map((f) => nearest(f, t, y, w)).sort((a, b) => a[0] - b[0]);
    const move = [0, 1, 2].map((k) => matched.slice(0, keep).reduce((s, [, d]) => s + d[k], 0) / keep);
    for (let k = 0; k < 3; k++) t[k] += move[k];
    if (Math.max(...move.map(Math.abs)) < 1e-4) break;
  }
  return t.map(Math.exp);
}

/**
 * `source` with its formants replaced by the target's over the matched ratios, so a model that warps by
 * target over source formants warps by the matched ratios; `source` as it is when either profile has no
 * inventory (profiles made before it) or no formants.
 */
export function withMatchedFormants<
  P extends { formants?: number[]; formantInventory?: number[]; durationSeconds: number },
>(source: P, target: { formants?: number[]; formantInventory?: number[] }, options: FormantMatchOptions): P {
  const s = source.formants;
  const t = target.formants;
  if (!s || !t || !source.formantInventory || !target.formantInventory) return source;
  if (![...s, ...t].every((v) => v > 0)) return source;
  const fade = options.fadeSeconds ? Math.max(0, 1 - source.durationSeconds / options.fadeSeconds) : 1;
  if (fade === 0) return source;
  const medians = t.map((v, k) => v / s[k]);
  const ratios = matchFormantRatios(source.formantInventory, target.formantInventory, medians, options);
  if (!ratios) return source;
  // Blended in log: medians^(1 - fade) x matched^fade.
  return { ...source, formants: t.map((v, k) => v / (medians[k] ** (1 - fade) * ratios[k] ** fade)) };
}
