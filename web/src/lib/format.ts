import type { RateAllowance } from './types.js';

/** Bytes in the largest unit that keeps a number of at least 1: "2.2 MB", "1 MB", "512 KB". */
export function formatBytes(n: number): string {
  const units: [number, string][] = [
    [1024 ** 3, 'GB'],
    [1024 ** 2, 'MB'],
    [1024, 'KB'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) return `${Number.isInteger(n / size) ? n / size : (n / size).toFixed(1)} ${unit}`;
  }
  return `${n} bytes`;
}

/** A whole number of hours or minutes when it is one, else seconds: "10 min", "1 h", "20 s". */
export function formatSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/** "5 conversions a minute", "10 uploads per 5 min". */
export function rateText({ max, windowSec }: Pick<RateAllowance, 'max' | 'windowSec'>, noun: string): string {
  const per =
    windowSec === 60 ? 'a minute' : windowSec === 3600 ? 'an hour' : `per ${formatSeconds(windowSec)}`;
  return `${max} ${noun} ${per}`;
}

/** A wait in words: seconds below two minutes, else whole minutes rounded up. */
export function waitText(sec: number): string {
  return sec >= 120 ? `${Math.ceil(sec / 60)} min` : `${Math.max(1, sec)} s`;
}

/** The download name of a job's result: "speech-converted.ogg". */
export function resultName(filename: string, format: string): string {
  return `${(filename || 'audio').replace(/\.[^.]*$/, '')}-converted.${format}`;
}
