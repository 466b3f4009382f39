import { readFile } from 'node:fs/promises';
import { ApiClient } from '../../helpers/client.js';

/**
 * The admin API body for the tier tests' user: a pro account whose API and upload limits leave
 * room for polling and for the drain tests' back-to-back uploads (the limits are not under test).
 */
export const TIER_TEST_USER = {
  name: 'tier-test',
  plan: 'pro',
  overrides: {
    rateLimits: { api: { max: 100_000, windowSec: 60 }, uploads: { max: 100_000, windowSec: 60 } },
  },
};

/**
 * Creates the tier tests' user through the admin API at `base` (the admin token read from
 * `adminTokenFile`, as the deploy wrote it) and returns a client signed in with its API key.
 */
export async function createTierUser(base: string, adminTokenFile: string): Promise<ApiClient> {
  const adminToken = (await readFile(adminTokenFile, 'utf8')).trim();
  const res = await fetch(`${base}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(TIER_TEST_USER),
  });
  if (res.status !== 201) throw new Error(`creating the tier user: ${res.status} ${await res.text()}`);
  const { apiKey } = (await res.json()) as { apiKey: string };
  return new ApiClient(base, { token: apiKey, userId: '' });
}

export interface TimedRequest {
  start: number;
  end: number;
  status?: number;
  /** The connection error that ended the request (ECONNREFUSED, ECONNRESET, ...). */
  error?: string;
}

/**
 * Uploads one file after another until the service stops taking connections (or maxMs), each
 * with its start and end time and its status or the error that ended it: what a drain test
 * needs to tell requests cut off from requests that simply found nothing listening.
 */
export async function uploadsUntilRefused(
  client: ApiClient,
  file: string,
  maxMs: number,
): Promise<TimedRequest[]> {
  const until = Date.now() + maxMs;
  const requests: TimedRequest[] = [];
  let errorsInARow = 0;
  while (Date.now() < until && errorsInARow < 3) {
    const start = Date.now();
    try {
      const res = await client.upload(file);
      requests.push({ start, end: Date.now(), status: res.status });
      errorsInARow = 0;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      requests.push({ start, end: Date.now(), error: cause?.code ?? (err as Error).message });
      errorsInARow++;
      if (cause?.code === 'ECONNREFUSED') break;
    }
  }
  return requests;
}
