import { readFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { unavailableWaitMs } from '../../src/client-cli/retry-after.js';
import type { ConversionJobView } from '../../src/queue/index.js';
import { LiveEvents } from './live-events.js';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field and assert on them
export type Json = any;

export interface Session {
  token: string;
  userId: string;
}

/**
 * fetch that, as a real client does (the page, the CLI), waits out a request shed for load and
 * sends it again: when and how often come from the clients' one reader,
 * `unavailableWaitMs` (src/client-cli/retry-after.ts: at most 3 times, each wait bounded). A loaded
 * machine (`npm test` runs two files at once) lags an API process's event loop past
 * MAX_EVENT_LOOP_DELAY_MS and it sheds requests the test is not about (startService's in-process
 * API does not shed; a cluster's API processes do). Only a 503 with Retry-After while readiness says `overloaded` is retried: a 503 for
 * Redis down, a drain or any other status comes back as it came, for the fault tests that judge
 * those (their probes measure when 503s start and stop). A test about load shedding sets
 * `retryShed = false`.
 */
export async function fetchWaitingOutShed(
  baseUrl: string,
  url: string,
  init: RequestInit = {},
  retry = true,
): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${baseUrl}${url}`, init);
    const wait = unavailableWaitMs(res.status, res.headers.get('retry-after'), attempt);
    if (!retry || wait === undefined) return res;
    const ready = await fetch(`${baseUrl}/health/ready`);
    const state = ((await ready.json().catch(() => ({}))) as { status?: string }).status;
    if (state !== 'overloaded') return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** A minimal HTTP client for one user of a running vcfarm. */
export class ApiClient {
  /** false: a shed request's 503 is returned at once (tests about load shedding). */
  retryShed = true;

  constructor(
    readonly baseUrl: string,
    readonly session?: Session,
  ) {}

  private send(url: string, init: RequestInit = {}): Promise<Response> {
    return fetchWaitingOutShed(this.baseUrl, url, init, this.retryShed);
  }

  static async anonymous(baseUrl: string): Promise<ApiClient> {
    const res = await fetchWaitingOutShed(baseUrl, '/api/session', { method: 'POST' }, true);
    if (res.status !== 201) throw new Error(`session: ${res.status}`);
    return new ApiClient(baseUrl, (await res.json()) as Session);
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.session ? { authorization: `Bearer ${this.session.token}`, ...extra } : extra;
  }

  async request(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json; headers: Headers }> {
    const res = await this.send(url, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** Uploads bytes as multipart field `file`. */
  uploadBytes(bytes: Uint8Array, filename: string): Promise<{ status: number; body: Json }> {
    return this.postFile('/api/uploads', bytes, filename, {});
  }

  /** Sends bytes as a voice reference recording (multipart `name` and `file`). */
  cloneVoiceBytes(
    bytes: Uint8Array,
    filename: string,
    name: string,
  ): Promise<{ status: number; body: Json }> {
    return this.postFile('/api/voices', bytes, filename, { name });
  }

  private async postFile(
    url: string,
    bytes: Uint8Array,
    filename: string,
    fields: Record<string, string>,
  ): Promise<{ status: number; body: Json }> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([bytes]), filename);
    const res = await this.send(url, { method: 'POST', headers: this.headers(), body: form });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  }

  async upload(file: string): Promise<{ status: number; body: Json }> {
    return this.uploadBytes(await readFile(file), path.basename(file));
  }

  async createJob(body: Record<string, unknown>): Promise<ConversionJobView> {
    const res = await this.request('POST', '/api/jobs', body);
    if (res.status !== 202) throw new Error(`create job: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.job as ConversionJobView;
  }

  async job(id: string): Promise<ConversionJobView> {
    const res = await this.request('GET', `/api/jobs/${id}`);
    if (res.status !== 200) throw new Error(`job ${id}: ${res.status}`);
    return res.body.job as ConversionJobView;
  }

  /**
   * A job's view once it has ended, waited for over the WebSocket: polling would spend an
   * anonymous user's API requests (the free plan's 60 a minute, config/plans.json) while a loaded
   * machine converts.
   */
  async waitForJobEnd(id: string): Promise<ConversionJobView> {
    const events = await this.openEvents();
    try {
      const now = await this.job(id);
      if (now.state === 'queued' || now.state === 'active')
        await events.waitFor((m) => m.jobId === id && ['completed', 'failed', 'cancelled'].includes(m.type));
    } finally {
      events.close();
    }
    return this.job(id);
  }

  /** Polls until the job is finished (completed, failed or cancelled). */
  async waitForJob(id: string, timeoutMs = 60_000): Promise<ConversionJobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.job(id);
      if (job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled') return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async waitForState(id: string, state: string, timeoutMs = 30_000): Promise<ConversionJobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.job(id);
      if (job.state === state) return job;
      if (Date.now() > deadline)
        throw new Error(`job ${id} is ${job.state}, not ${state}, after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async download(id: string): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
    const res = await this.send(`/api/jobs/${id}/result`, { headers: this.headers() });
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
  }

  /** Opens the progress WebSocket (one connection, no reconnect) and records every message from the snapshot on. */
  async openEvents(): Promise<LiveEvents> {
    const events = new LiveEvents({
      baseUrl: this.baseUrl,
      token: this.session?.token ?? '',
      maxAttempts: 0,
    });
    await events
      .waitFor((m) => m.type === 'snapshot', 30_000)
      .catch((err) => {
        events.close();
        throw err;
      });
    return events;
  }
}

/** Tries to open the progress socket of `baseUrl` with `token`; resolves the HTTP status of the refusal. */
export function refusedUpgradeStatus(baseUrl: string, token: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/ws?token=${token}`);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      ws.close();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('error', () => {});
  });
}
