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

/**
 * One word for a POSIX shell, whatever it holds: single-quoted, with each `'` written as `'\''`
 * (inside single quotes no character is special, newlines included). Not the `shell-quote`
 * package: its `quote` backslash-escapes instead, and the page needs only this one rule.
 */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * A file name that reads the same in any shell or folder: letters, marks, digits, `.`, `_` and `-`
 * kept, every other run of characters one `_`, at most 120 characters, no leading `-`, `.` or `_`
 * (an option, a hidden file, `..`): "it's mine.mp3" gives "it_s_mine.mp3".
 */
export function safeFileName(name: string): string {
  const safe = name
    .replace(/[^\p{L}\p{M}\p{N}._-]+/gu, '_')
    .slice(-120)
    .replace(/^[-._]+/, '');
  return safe || 'audio';
}

/** The `curl` line that downloads a result into a safely named file, every word quoted. */
export function curlLine(url: string, filename: string, format: string): string {
  return `curl -o ${shellQuote(resultName(safeFileName(filename), format))} ${shellQuote(url)}`;
}

/** Why a finished conversion has no result any more, in words. */
export function resultGoneText(why: 'deleted' | 'expired' | 'account-removed'): string {
  if (why === 'account-removed') return "The result went with its owner's account.";
  return why === 'deleted'
    ? 'The result was deleted.'
    : 'The result expired: it was removed at the end of its lifetime.';
}

/** The largest of day, h, min that `sec` holds at least once, as a count of it (rounded by `round`). */
function inLargestUnit(sec: number, round: (x: number) => number): { n: number; unit: string } | null {
  for (const [size, unit] of [
    [86_400, 'day'],
    [3600, 'h'],
    [60, 'min'],
  ] as const)
    if (sec >= size) return { n: round(sec / size), unit };
  return null;
}

const unitText = ({ n, unit }: { n: number; unit: string }): string =>
  unit === 'day' ? `${n} day${n === 1 ? '' : 's'}` : `${n} ${unit}`;

/** "just now", "3 min ago", "2 h ago", "5 days ago". */
export function relativeTime(atMs: number, nowMs: number): string {
  const sec = Math.round((nowMs - atMs) / 1000);
  const span = sec < 45 ? null : inLargestUnit(sec, Math.round);
  return span ? `${unitText(span)} ago` : 'just now';
}

/** When the sweeper may remove a workspace file, in words: "expires in 3 days", "in 5 h", "in 12 min", "soon". */
export function expiryText(sec: number): string {
  const span = inLargestUnit(sec, Math.floor);
  return span ? `expires in ${unitText(span)}` : 'expires soon';
}

/**
 * How long a job ran, and for a completed one its speed against its audio ("1.2 s, 8.3× real
 * time"). A job that failed or was cancelled converted only part of its audio, which its record
 * does not say: the ratio would claim the whole (a 9-min file cancelled after 6 s read "87×").
 */
export function speedText(
  startedAt: number | null,
  finishedAt: number | null,
  audioSec: number,
  state: string,
): string | undefined {
  if (!startedAt || !finishedAt || finishedAt < startedAt) return undefined;
  const sec = (finishedAt - startedAt) / 1000;
  const took = sec < 10 ? `${sec.toFixed(1)} s` : `${Math.round(sec)} s`;
  return state === 'completed' && sec > 0 && audioSec > 0
    ? `${took}, ${(audioSec / sec).toFixed(1)}× real time`
    : took;
}

/** The settings a conversion used, in words. */
export function settingsText(
  job: { pitchSemitones: number; strength: number | null; outputFormat: string },
  voiceName: string | undefined,
): string {
  const parts = [voiceName ? `voice ${voiceName}` : 'pitch shift only'];
  if (job.strength !== null && voiceName) parts.push(`strength ${Math.round(job.strength * 100)}%`);
  if (job.pitchSemitones) parts.push(`${job.pitchSemitones > 0 ? '+' : ''}${job.pitchSemitones} semitones`);
  parts.push(job.outputFormat.toUpperCase());
  return parts.join(' · ');
}

/** "1st", "2nd", "3rd", "11th", "22nd". */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** A queued job's place in words: "next in line · starts in about 40 s", "3rd in line". */
export function placeText(position: number, etaSec: number | null): string {
  const where = position === 1 ? 'next in line' : `${ordinal(position)} in line`;
  return etaSec === null ? where : `${where} · starts in about ${waitText(etaSec)}`;
}

/** What a voice sounds like from its median pitch: "low voice, about 103 Hz" (typical male speech is ~85-155 Hz, female ~165-255 Hz). */
export function voiceDescription(f0Median: number | null): string {
  if (f0Median === null || !(f0Median > 0)) return 'pitch unknown';
  const kind = f0Median < 140 ? 'low' : f0Median < 185 ? 'middle' : 'high';
  return `${kind} voice, about ${Math.round(f0Median)} Hz`;
}
