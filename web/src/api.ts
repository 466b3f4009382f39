import { unavailableWaitMs } from '../../src/client-cli/retry-after.js';
import { noteXhr } from './build.js';
import { fetchRetrying, pause } from './fetch-retrying.js';
import type { JobView } from './lib/types.js';

// The page's anonymous session token, or an API key entered in the page, lives in localStorage.
const TOKEN_KEY = 'vcfarm.token';
/** API keys carry this prefix (src/auth/accounts.ts), session tokens never. */
const API_KEY_PREFIX = 'vck_';

export const token = (): string | null => localStorage.getItem(TOKEN_KEY);
export const forgetToken = (): void => localStorage.removeItem(TOKEN_KEY);
export const storeToken = (t: string): void => localStorage.setItem(TOKEN_KEY, t);

/** Why the page needs an API key before it can act for anyone. */
export interface KeyNeeded {
  /** Shown above the key form. */
  reason: string;
  /** Whether an anonymous workspace may be started instead (open mode, a stored key refused). */
  anonymousAllowed: boolean;
}

let keyNeededListener: (why: KeyNeeded) => void = () => {};
/** Called when the page cannot go on without a key (the page then shows the key form). */
export function onKeyNeeded(fn: (why: KeyNeeded) => void): void {
  keyNeededListener = fn;
}

let sessionReplacedListener: () => void = () => {};
/** Called when the stored anonymous session was refused (it expired) and a new, empty one replaces it. */
export function onSessionReplaced(fn: () => void): void {
  sessionReplacedListener = fn;
}

/** Thrown by `ensureSession` where anonymous sessions are disabled (AUTH_MODE=keys). */
export class KeyNeededError extends Error {}

/**
 * The stored token was refused (401, or a WebSocket closed with 4401). An anonymous session that
 * expired is forgotten (true: start a new one), and the page told so (onSessionReplaced). An API key is never replaced by an anonymous
 * workspace behind the user's back: it stays stored, the key form says why, and false is returned.
 */
export function tokenRefused(): boolean {
  if (!token()?.startsWith(API_KEY_PREFIX)) {
    forgetToken();
    sessionReplacedListener();
    return true;
  }
  keyNeededListener({
    reason:
      'The API key stored in this browser was refused: it was rotated or its account removed. Enter a current key.',
    anonymousAllowed: true,
  });
  return false;
}

let creatingSession: Promise<void> | null = null;

/** A session exists once this resolves; one request at a time, however many callers ask at once. */
export function ensureSession(): Promise<void> {
  if (token()) return Promise.resolve();
  creatingSession ??= (async () => {
    const res = await fetchRetrying('/api/session', { method: 'POST' });
    if (res.status === 403) {
      const body = (await res.json().catch(() => null)) as { error?: string } | null;
      if (body?.error === 'VC_ERR_SESSIONS_DISABLED') {
        const reason = 'This service accepts API keys only: enter the key your administrator gave you.';
        keyNeededListener({ reason, anonymousAllowed: false });
        throw new KeyNeededError(reason);
      }
    }
    if (!res.ok) throw new Error(`could not start a session (HTTP ${res.status})`);
    const body = (await res.json()) as { token: string };
    storeToken(body.token);
  })().finally(() => {
    creatingSession = null;
  });
  return creatingSession;
}

/**
 * fetch with the bearer token (503 + Retry-After waited out); a 401 of an expired anonymous session
 * starts a new session and tries once more; a refused API key is answered as is (tokenRefused).
 */
export async function api(path: string, options: RequestInit = {}, retried = false): Promise<Response> {
  const headers = new Headers(options.headers);
  const t = token();
  if (t) headers.set('authorization', `Bearer ${t}`);
  const res = await fetchRetrying(path, { ...options, headers });
  if (res.status === 401 && !retried && tokenRefused()) {
    await ensureSession();
    return api(path, options, true);
  }
  return res;
}

/** Whether the service takes `key` (GET /api/workspace with it). */
export async function keyAccepted(key: string): Promise<boolean> {
  const res = await fetchRetrying('/api/workspace', { headers: { authorization: `Bearer ${key}` } });
  return res.ok;
}

/** The API's `{error, message}` as a sentence, or a generic one when the body is not JSON. */
export async function errorText(res: Response, what: string): Promise<string> {
  const body = (await res.json().catch(() => null)) as { message?: string } | null;
  return body?.message || `${what} failed (HTTP ${res.status})`;
}

export async function getJson<T>(path: string): Promise<T | undefined> {
  const res = await api(path);
  return res.ok ? ((await res.json()) as T) : undefined;
}

export async function fetchJob(id: string): Promise<JobView | undefined> {
  return (await getJson<{ job: JobView }>(`/api/jobs/${encodeURIComponent(id)}`))?.job;
}

export interface UploadAnswer {
  ok: boolean;
  status: number;
  body: {
    upload?: { id: string; filename: string; bytes: number; durationSec: number };
    message?: string;
  } | null;
}

/**
 * POST /api/uploads with XMLHttpRequest, the one browser API that reports upload progress; a
 * `503` + `Retry-After` is waited out and the file sent again, as fetchRetrying does.
 */
export async function uploadFile(file: File, onProgress: (fraction: number) => void): Promise<UploadAnswer> {
  for (let attempt = 1; ; attempt++) {
    const { answer, retryAfter } = await uploadOnce(file, onProgress);
    const wait = unavailableWaitMs(answer.status, retryAfter, attempt);
    if (wait === undefined) return answer;
    await pause(wait);
  }
}

function uploadOnce(
  file: File,
  onProgress: (fraction: number) => void,
): Promise<{ answer: UploadAnswer; retryAfter: string | null }> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/uploads');
    xhr.setRequestHeader('authorization', `Bearer ${token()}`);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      noteXhr(xhr);
      let body: UploadAnswer['body'] = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      resolve({
        answer: { ok: xhr.status === 201, status: xhr.status, body },
        retryAfter: xhr.getResponseHeader('retry-after'),
      });
    });
    xhr.addEventListener('error', () =>
      resolve({ answer: { ok: false, status: 0, body: null }, retryAfter: null }),
    );
    const form = new FormData();
    form.append('file', file);
    xhr.send(form);
  });
}
