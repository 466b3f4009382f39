import { setTimeout as sleep } from 'node:timers/promises';
import type { ConversionJobView } from '../queue/core.js';
import { ApiError, type VcfarmApi } from './api.js';

const FINAL = new Set(['completed', 'failed', 'cancelled']);
/** Pause before asking again after a stream that ended while the job still runs, or a refused request. */
const RETRY_MS = 500;

/**
 * Follows a job's result while it is written (`?partial=1`), handing each new byte to `sink` once,
 * until the job ends; resolves with the job as it ended. A stream cut while the job still runs (an API
 * instance closing, the job taken up by another attempt) is asked for again and the bytes already
 * handed on are skipped: the encoder writes the same bytes for the same input.
 */
export async function followPartial(
  api: VcfarmApi,
  jobId: string,
  sink: (chunk: Buffer) => Promise<void>,
): Promise<ConversionJobView> {
  let written = 0;
  for (;;) {
    let wait = 0;
    try {
      const res = await api.partialResult(jobId);
      if (res.status === 200 && res.body) {
        let skip = written;
        for await (const part of res.body) {
          let chunk = Buffer.from(part);
          const skipped = Math.min(skip, chunk.length);
          skip -= skipped;
          chunk = chunk.subarray(skipped);
          if (chunk.length === 0) continue;
          await sink(chunk);
          written += chunk.length;
        }
      } else if (res.status === 409 || res.status === 404) {
        // 409: nothing written yet (a queued job); 404: the job failed or was cancelled (read below).
        await res.body?.cancel();
        wait = Math.max(RETRY_MS, Number(res.headers.get('retry-after') ?? 0) * 1000);
      } else {
        const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
        throw new ApiError(res.status, body.error ?? `HTTP_${res.status}`, body.message ?? res.statusText);
      }
    } catch (err) {
      if (err instanceof ApiError && err.status !== 0) throw err;
      wait = RETRY_MS; // the connection broke: the job's state says whether to go on
    }
    const job = await api.job(jobId);
    if (FINAL.has(job.state)) return job;
    await sleep(wait || RETRY_MS);
  }
}
