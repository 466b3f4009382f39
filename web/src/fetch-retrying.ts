import { unavailableWaitMs } from '../../src/client-cli/retry-after.js';
import { noteAnswer } from './build.js';

/** Waits `ms`: the pause before asking again (also for senders that cannot use fetch, like XHR uploads). */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * fetch that waits out `503` + `Retry-After` (an instance shedding load before it serves the
 * request, or Redis refusing writes) and asks again, a bounded number of times
 * (src/client-cli/retry-after.ts, shared with the CLI); the last answer, and any other, is
 * returned as it came. The workspace page and the admin dashboard both send through it; each
 * answer's build is noted (build.ts).
 */
export async function fetchRetrying(path: string, options: RequestInit = {}): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(path, options);
    noteAnswer(res);
    const wait = unavailableWaitMs(res.status, res.headers.get('retry-after'), attempt);
    if (wait === undefined) return res;
    await res.body?.cancel();
    await pause(wait);
  }
}
