// The admin token is entered once per browser tab and kept in sessionStorage (gone with the tab).
export const TOKEN_KEY = 'vcfarm.admin';

export async function adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}`);
  return fetch(path, { ...init, headers });
}

/** The API's `{message}`, or the status when the body says nothing. */
export async function messageOf(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as { message?: string } | null;
  return body?.message ?? `HTTP ${res.status}`;
}
