import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { applyServerMessage, type JobState, type ServerMessage } from '../progress/core.js';
import type { VcfarmApi } from './api.js';
import { retryNotice } from './retry.js';
import { unavailableWaitMs } from './retry-after.js';

const FINAL = new Set(['completed', 'failed', 'cancelled']);
/** Besides the socket, jobs are read over HTTP this often: a lost socket only slows the display. */
const POLL_MS = 2000;

/** An upgrade answered over HTTP instead: its status, `Retry-After` and message. */
interface Refusal {
  status: number;
  retryAfter: string | null;
  message: string;
}

/** The refusal's `{message}` (the API's words), or a generic one when the body says nothing. */
function messageOf(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string' && message.trim()) return message.trim().slice(0, 300);
  } catch {
    // not JSON
  }
  return 'no reason given';
}

/** Follows the user's jobs: the WebSocket's events, folded as the page folds them, plus a slow poll. */
export class JobWatcher {
  readonly jobs = new Map<string, JobState>();
  private socket: WebSocket | undefined;
  private listeners: (() => void)[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly api: VcfarmApi) {}

  /**
   * Opens the socket and waits for its snapshot (or gives up quietly after 5 s: polling still
   * works). An upgrade refused with `503` + `Retry-After` (an instance at its WebSocket limit, or
   * shedding load) is asked again as the HTTP requests are (retry-after.ts: at most 3 times, each
   * wait told on stderr); any other refusal, or the last 503, is told on stderr in words and the
   * jobs are followed over HTTP alone.
   */
  async open(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const refusal = await this.connect();
      if (!refusal) return;
      // A key the service does not know: the HTTP request that follows says so, once, in its words.
      if (refusal.status === 401) return;
      const wait = unavailableWaitMs(refusal.status, refusal.retryAfter, attempt);
      if (wait === undefined) {
        const retried = attempt > 1 ? ` after ${attempt - 1} retries` : '';
        this.api.notice(
          `vcfarm: no live progress: the service refused the WebSocket (HTTP ${refusal.status}: ${refusal.message})${retried}; following the jobs over HTTP every ${POLL_MS / 1000} s\n`,
        );
        return;
      }
      this.api.notice(retryNotice(wait, attempt, ' the live connection'));
      await sleep(wait);
    }
  }

  /** One upgrade: resolves once the snapshot came or the socket closed (undefined), or with the HTTP refusal. */
  private connect(): Promise<Refusal | undefined> {
    const url = `${this.api.baseUrl.replace(/^http/, 'ws')}/api/ws?token=${encodeURIComponent(this.api.token)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.on('error', () => {});
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 5000);
      socket.once('unexpected-response', (_req, res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 4096) text += chunk;
        });
        res.on('error', () => {});
        res.once('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : null,
            message: messageOf(text),
          });
          socket.terminate();
        });
      });
      socket.on('message', (data) => {
        const msg = JSON.parse(String(data)) as ServerMessage;
        applyServerMessage(this.jobs, msg);
        if (msg.type === 'snapshot') {
          clearTimeout(timer);
          resolve(undefined);
        }
        this.changed();
      });
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
    this.wake?.();
  }

  /** Resolves once every job in `ids` is completed, failed or cancelled. */
  async waitFinal(ids: string[]): Promise<void> {
    const done = () => ids.every((id) => FINAL.has(this.jobs.get(id)?.state ?? ''));
    let last = Date.now();
    while (!done()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (Date.now() - last >= POLL_MS) {
        last = Date.now();
        for (const id of ids) if (!FINAL.has(this.jobs.get(id)?.state ?? '')) await this.refresh(id);
      }
    }
  }

  async refresh(id: string): Promise<void> {
    const job = await this.api.job(id);
    applyServerMessage(this.jobs, { type: 'snapshot', jobs: [job], eventId: '0-0' });
    this.changed();
  }

  close(): void {
    this.socket?.close();
  }
}
