import type { ApiClient, Json } from './client.js';

/** POSTs JSON or a form with an optional Idempotency-Key; says whether the answer was a replay. */
export async function idempotentPost(
  client: ApiClient,
  base: string,
  url: string,
  body: Json,
  key?: string,
): Promise<{ status: number; body: Json; replayed: boolean }> {
  const form = body instanceof FormData;
  const res = await fetch(`${base}${url}`, {
    method: 'POST',
    headers: client.headers({
      ...(key === undefined ? {} : { 'idempotency-key': key }),
      ...(form ? {} : { 'content-type': 'application/json' }),
    }),
    body: form ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: await res.json(),
    replayed: res.headers.get('idempotent-replayed') === 'true',
  };
}

/** How many jobs the client's user has (up to 100). */
export async function jobCount(client: ApiClient): Promise<number> {
  return (await client.request('GET', '/api/jobs?limit=100')).body.jobs.length;
}
