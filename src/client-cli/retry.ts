import { setTimeout as sleep } from 'node:timers/promises';
import { UNAVAILABLE_RETRIES, unavailableWaitMs } from './retry-after.js';

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
    const wait = unavailableWaitMs(res.status, res.headers.get('retry-after'), attempt);
    if (wait === undefined) return res;
    await res.body?.cancel();
    notice(retryNotice(wait, attempt));
    await sleep(wait);
  }
}

/** The line told on stderr before waiting `waitMs` after the `attempt`th 503 (`what`: what is retried). */
export function retryNotice(waitMs: number, attempt: number, what = ''): string {
  return `vcfarm: the service is unavailable for now (HTTP 503); retrying${what} in ${Math.ceil(waitMs / 1000)} s (${attempt} of ${UNAVAILABLE_RETRIES})\n`;
}
