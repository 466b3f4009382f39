import { fetchRetrying } from '../fetch-retrying.js';

// The admin token is entered once per browser tab and kept in sessionStorage (gone with the tab).
export const TOKEN_KEY = 'vcfarm.admin';

/**
 * fetch with the admin token; a `503` + `Retry-After` (an instance shedding load) is waited out and
 * asked again, at most 3 times, as the workspace page and the CLI do.
 */
export async function adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}`);
  return fetchRetrying(path, { ...init, headers });
}

/** The API's `{message}`, or the status when the body says nothing. */
export async function messageOf(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as { message?: string } | null;
  return body?.message ?? `HTTP ${res.status}`;
}
