import { setTimeout as sleep } from 'node:timers/promises';

/** Retries of one request answered 503 with Retry-After (the service shedding load, or Redis away). */
export const UNAVAILABLE_RETRIES = 3;
/** The longest pause honoured between two of them, whatever Retry-After says. */
const MAX_WAIT_MS = 30_000;

/**
 * The pause a `Retry-After` header asks for (seconds or an HTTP date), bounded to 0..30 s;
 * undefined when there is none or it cannot be read.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(MAX_WAIT_MS, Math.max(0, ms));
}

/**
 * fetch that honours `503` + `Retry-After` (an overloaded or briefly cut-off service: nothing was
 * done) by waiting as asked and sending the same request again, at most UNAVAILABLE_RETRIES times;
 * any other answer, and the last 503, is returned as it came. `body` must be sendable again (a
 * string or FormData of Blobs). `notice` hears each wait.
 */
export async function fetchHonouringRetryAfter(
  url: string,
  init: RequestInit,
  notice: (line: string) => void,
): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, init);
    const wait = res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
    if (wait === undefined || attempt > UNAVAILABLE_RETRIES) return res;
    await res.body?.cancel();
    notice(
      `vcfarm: the service is unavailable for now (HTTP 503); retrying in ${Math.ceil(wait / 1000)} s (${attempt} of ${UNAVAILABLE_RETRIES})\n`,
    );
    await sleep(wait);
  }
}
