// When a client asks again after `503` + `Retry-After`. Pure, with no Node imports: the CLI
// (retry.ts) and the page (web/src/api.ts, bundled by Vite) both use it.

/** Retries of one request answered 503 with Retry-After (the service shedding load, or Redis away). */
export const UNAVAILABLE_RETRIES = 3;
/** The longest pause honoured between two of them, whatever Retry-After says. */
const MAX_WAIT_MS = 30_000;

/**
 * The pause before asking again for an answer with `status` and this `Retry-After` (seconds or an
 * HTTP date), bounded to 0..30 s; undefined when it is no 503, it has no readable Retry-After, or
 * `attempt` (1 for the first answer) used up the retries. Any other status is never retried.
 */
export function unavailableWaitMs(
  status: number,
  retryAfter: string | null,
  attempt: number,
  now = Date.now(),
): number | undefined {
  if (status !== 503 || attempt > UNAVAILABLE_RETRIES || retryAfter === null || retryAfter.trim() === '')
    return undefined;
  const seconds = Number(retryAfter);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(MAX_WAIT_MS, Math.max(0, ms));
}
