import WebSocket from 'ws';
import { applyServerMessage, type JobState, type ServerMessage } from '../progress/core.js';
import type { VcfarmApi } from './api.js';

const FINAL = new Set(['completed', 'failed', 'cancelled']);
/** Besides the socket, jobs are read over HTTP this often: a lost socket only slows the display. */
const POLL_MS = 2000;

/** Follows the user's jobs: the WebSocket's events, folded as the page folds them, plus a slow poll. */
export class JobWatcher {
  readonly jobs = new Map<string, JobState>();
  private socket: WebSocket | undefined;
  private listeners: (() => void)[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly api: VcfarmApi) {}

  /** Opens the socket and waits for its snapshot (or gives up quietly after 5 s: polling still works). */
  async open(): Promise<void> {
    const url = `${this.api.baseUrl.replace(/^http/, 'ws')}/api/ws?token=${encodeURIComponent(this.api.token)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.on('error', () => {});
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      socket.on('message', (data) => {
        const msg = JSON.parse(String(data)) as ServerMessage;
        applyServerMessage(this.jobs, msg);
        if (msg.type === 'snapshot') {
          clearTimeout(timer);
          resolve();
        }
        this.changed();
      });
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
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
