import { randomUUID } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ConversionJobView } from '../queue/core.js';
import { fetchHonouringRetryAfter, lostWords } from './retry.js';

/** A refusal from the service, with its code and message as sent. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Voice {
  id: string;
  name: string;
  model: string;
  state: string;
  error?: { code: string; message: string } | null;
}

export interface Preset {
  id: string;
  name: string;
  /** The human name the page shows ("Walter"), and how the voice sounds. */
  displayName: string;
  description: string;
  model: string;
}

/**
 * The HTTP side of the client: one base URL, one bearer token. Every request honours a
 * `503` + `Retry-After` answer (retry.ts), each wait told on stderr; one safe to repeat (a read, or
 * a POST with its Idempotency-Key) is sent again when its connection broke before the answer.
 */
export class VcfarmApi {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    /** Hears each line the client tells the user while it waits (stderr). */
    readonly notice: (line: string) => void = (line) => process.stderr.write(line),
  ) {}

  private fetch(url: string, init: RequestInit): Promise<Response> {
    return fetchHonouringRetryAfter(`${this.baseUrl}${url}`, init, this.notice);
  }

  /** Creates an anonymous session (for users without an API key). */
  static async session(baseUrl: string): Promise<{ token: string; userId: string }> {
    return (await new VcfarmApi(baseUrl, '').call('POST', '/api/session', undefined, false)) as {
      token: string;
      userId: string;
    };
  }

  /**
   * One logical request. Every authenticated POST the client sends (an upload, a job, a voice: the
   * API's idempotent routes) carries an `Idempotency-Key` made here, once, and sent again with the
   * same request on every retry (retry.ts), so a retry whose first answer was lost gets that answer
   * replayed and never makes a second upload, job or voice.
   */
  async call(method: string, url: string, body?: unknown, auth = true): Promise<unknown> {
    const headers: Record<string, string> = auth ? { authorization: `Bearer ${this.token}` } : {};
    if (auth && method === 'POST') headers['idempotency-key'] = randomUUID();
    let payload: string | FormData | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await this.fetch(url, { method, headers, body: payload });
    } catch (err) {
      throw new ApiError(
        0,
        'VC_CLIENT_UNREACHABLE',
        `cannot reach ${this.baseUrl}: ${lostWords(err as Error)}`,
      );
    }
    if (res.status === 204) return undefined;
    const text = await res.text();
    let parsed: { error?: string; message?: string } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok)
      throw new ApiError(
        res.status,
        parsed?.error ?? `HTTP_${res.status}`,
        parsed?.message ?? res.statusText,
      );
    return parsed;
  }

  async upload(file: string): Promise<{ id: string; durationSec: number }> {
    const form = new FormData();
    form.append('file', await openAsBlob(file), path.basename(file));
    return (
      (await this.call('POST', '/api/uploads', form)) as { upload: { id: string; durationSec: number } }
    ).upload;
  }

  async createJob(body: Record<string, unknown>): Promise<ConversionJobView> {
    return ((await this.call('POST', '/api/jobs', body)) as { job: ConversionJobView }).job;
  }

  async job(id: string): Promise<ConversionJobView> {
    return ((await this.call('GET', `/api/jobs/${encodeURIComponent(id)}`)) as { job: ConversionJobView })
      .job;
  }

  async jobs(query: string): Promise<ConversionJobView[]> {
    return ((await this.call('GET', `/api/jobs${query}`)) as { jobs: ConversionJobView[] }).jobs;
  }

  async cancel(id: string): Promise<ConversionJobView> {
    return ((await this.call('DELETE', `/api/jobs/${encodeURIComponent(id)}`)) as { job: ConversionJobView })
      .job;
  }

  async voices(): Promise<{ voices: Voice[]; presets: Preset[] }> {
    return (await this.call('GET', '/api/voices')) as { voices: Voice[]; presets: Preset[] };
  }

  async cloneVoice(name: string, file: string): Promise<{ voice: Voice; job: ConversionJobView }> {
    const form = new FormData();
    form.append('name', name);
    form.append('file', await openAsBlob(file), path.basename(file));
    return (await this.call('POST', '/api/voices', form)) as { voice: Voice; job: ConversionJobView };
  }

  async removeVoice(id: string): Promise<void> {
    await this.call('DELETE', `/api/voices/${encodeURIComponent(id)}`);
  }

  /**
   * `GET /api/jobs/:id/result?partial=1`: the answer as it comes (200: the output so far, then as it
   * grows; 409 while nothing is written yet; 404 once the job failed or was cancelled).
   */
  async partialResult(jobId: string): Promise<Response> {
    try {
      return await this.fetch(`/api/jobs/${encodeURIComponent(jobId)}/result?partial=1`, {
        headers: { authorization: `Bearer ${this.token}` },
      });
    } catch (err) {
      throw new ApiError(
        0,
        'VC_CLIENT_UNREACHABLE',
        `cannot reach ${this.baseUrl}: ${lostWords(err as Error)}`,
      );
    }
  }

  /** Downloads a finished job's result to `dest` (a partial file is never left there). */
  async download(jobId: string, dest: string): Promise<void> {
    const res = await this.fetch(`/api/jobs/${encodeURIComponent(jobId)}/result`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (!res.ok || !res.body) {
      const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
      throw new ApiError(res.status, body.error ?? `HTTP_${res.status}`, body.message ?? 'download failed');
    }
    const tmp = `${dest}.part-${process.pid}`;
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(tmp));
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
