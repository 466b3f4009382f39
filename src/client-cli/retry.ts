import { setTimeout as sleep } from 'node:timers/promises';
import { UNAVAILABLE_RETRIES, unavailableWaitMs } from './retry-after.js';

/** The pause before sending a request again after its connection broke without an answer. */
const LOST_ANSWER_WAIT_MS = 1000;

/**
 * True when sending `init` again cannot do anything twice: a read, or a request with an
 * `Idempotency-Key` (the API replays the first answer to a repeat: README, Idempotent submission).
 */
function repeatable(init: RequestInit): boolean {
  const method = (init.method ?? 'GET').toUpperCase();
  return method === 'GET' || method === 'HEAD' || new Headers(init.headers).has('idempotency-key');
}

/**
 * fetch that honours `503` + `Retry-After` (an overloaded or briefly cut-off service: nothing was
 * done) by waiting as asked and sending the same request again; and, for a request that is safe to
 * repeat (`repeatable`), a connection that broke before any answer (the answer lost on the way) by
 * sending it again after a second. At most UNAVAILABLE_RETRIES retries in all; any other answer,
 * and the last 503, is returned as it came, the last broken connection thrown. `body` must be
 * sendable again (a string or FormData of Blobs). `notice` hears each wait.
 */
export async function fetchHonouringRetryAfter(
  url: string,
  init: RequestInit,
  notice: (line: string) => void,
): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (err) {
      if (attempt > UNAVAILABLE_RETRIES || !repeatable(init)) throw err;
      notice(
        `vcfarm: ${lostWords(err as Error)}; sending the same request again in ${LOST_ANSWER_WAIT_MS / 1000} s (${attempt} of ${UNAVAILABLE_RETRIES})\n`,
      );
      await sleep(LOST_ANSWER_WAIT_MS);
      continue;
    }
    const wait = unavailableWaitMs(res.status, res.headers.get('retry-after'), attempt);
    if (wait === undefined) return res;
    await res.body?.cancel();
    notice(retryNotice(wait, attempt));
    await sleep(wait);
  }
}

/** fetch's causes that mean no connection was made at all (nothing was sent). */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** What happened to a request fetch threw for, truthfully: never connected, or cut before an answer. */
export function lostWords(err: Error): string {
  const cause = err.cause as (Error & { code?: string }) | undefined;
  const reason = cause?.code ?? cause?.message ?? err.message;
  return cause?.code && NOT_CONNECTED.has(cause.code)
    ? `could not connect to the service (${reason})`
    : `the connection broke before an answer (${reason})`;
}

/** The line told on stderr before waiting `waitMs` after the `attempt`th 503 (`what`: what is retried). */
export function retryNotice(waitMs: number, attempt: number, what = ''): string {
  return `vcfarm: the service is unavailable for now (HTTP 503); retrying${what} in ${Math.ceil(waitMs / 1000)} s (${attempt} of ${UNAVAILABLE_RETRIES})\n`;
}
