import { Redis } from 'ioredis';
import type { WorkerStats } from '../../src/scaling/index.js';
import { fetchWaitingOutShed, type Json } from './client.js';
import { waitUntil } from './processes.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** HTTP calls with the admin token; a request shed for load is sent again, as ApiClient's are. */
export async function adminRequest(
  baseUrl: string,
  method: string,
  url: string,
  body?: unknown,
  token = ADMIN_TOKEN,
) {
  const res = await fetchWaitingOutShed(baseUrl, url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Json = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

/** Reads worker heartbeats straight from Redis (fresher than waiting for the stats route). */
export class WorkerWatch {
  readonly redis: Redis;
  constructor(url: string) {
    this.redis = new Redis(url);
  }
  async stats(workerId: string): Promise<WorkerStats | undefined> {
    const raw = await this.redis.get(`vcfarm:worker:${workerId}`);
    return raw ? (JSON.parse(raw) as WorkerStats) : undefined;
  }
  async waitFor(
    workerId: string,
    pred: (s: WorkerStats) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<WorkerStats> {
    let last: WorkerStats | undefined;
    await waitUntil(
      async () => {
        last = await this.stats(workerId);
        return last !== undefined && pred(last);
      },
      timeoutMs,
      `${what} (last: size ${last?.size}, threads ${last?.threadCount}, busy ${last?.busy})`,
    );
    return last as WorkerStats;
  }
  close(): void {
    this.redis.disconnect();
  }
}
