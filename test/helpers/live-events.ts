import WebSocket from 'ws';
import {
  applyServerMessage,
  compareEventIds,
  type JobState,
  type ServerMessage,
} from '../../src/progress/index.js';

export interface LiveEventsOptions {
  baseUrl: string;
  token: string;
  /** First back-off delay in ms (doubled per failed attempt, ×0.5–1.5 jitter). Default 100. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Gives up after this many connection attempts in a row without a message. Default 40. */
  maxAttempts?: number;
  /** Start from this event id instead of a snapshot. */
  lastEventId?: string;
  /** `url`: token and lastEventId in the query; `message`: the page's way, in the first message. */
  auth?: 'url' | 'message';
}

/** A message as received, stamped with when (ms since the epoch). */
export type ReceivedMessage = ServerMessage & { at: number };

/** A received message read loosely, for predicates over any kind (`m.jobId`, `m.progress`...). */
export interface RecordedMessage {
  type: string;
  jobId?: string;
  progress?: number;
  at: number;
  [key: string]: unknown;
}

export interface Connection {
  /** The API instance HAProxy chose (X-Served-By), or '' when connected directly. */
  servedBy: string;
  /** How the stream began: 'snapshot', 'replay' (events first), or '' (nothing yet). */
  began: '' | 'snapshot' | 'replay';
  closeCode?: number;
}

/**
 * The tests' one WebSocket client. It behaves like the page: keeps the highest event id it saw, reconnects
 * with jittered exponential back-off, resumes from that id, and folds every message into a
 * per-job state with the same `applyServerMessage` the server's types define.
 */
export class LiveEvents {
  readonly jobs = new Map<string, JobState>();
  readonly messages: ReceivedMessage[] = [];
  readonly connections: Connection[] = [];
  lastEventId: string | undefined;
  private ws: WebSocket | undefined;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];

  constructor(private readonly opts: LiveEventsOptions) {
    this.lastEventId = opts.lastEventId;
    this.connect();
  }

  get socket(): WebSocket | undefined {
    return this.ws;
  }

  get current(): Connection | undefined {
    return this.connections[this.connections.length - 1];
  }

  /** Resolves when `pred` holds (checked after every message), or rejects after `timeoutMs`. */
  waitUntil(pred: () => boolean, timeoutMs = 60_000, what = 'a condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.pred !== pred);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Waits for the next connection's first message (snapshot or replayed event). */
  async waitForStart(timeoutMs = 30_000): Promise<Connection> {
    await this.waitUntil(() => this.current?.began !== '' && this.current !== undefined, timeoutMs, 'start');
    return this.current as Connection;
  }

  /** Resolves with the first message (received or to come) that `pred` holds for. */
  async waitFor(pred: (m: RecordedMessage) => boolean, timeoutMs = 60_000): Promise<RecordedMessage> {
    const found = () => (this.messages as unknown as RecordedMessage[]).find(pred);
    await this.waitUntil(() => found() !== undefined, timeoutMs, 'a WebSocket message');
    return found() as RecordedMessage;
  }

  /** The messages about one job, in order. */
  forJob(jobId: string): RecordedMessage[] {
    return (this.messages as unknown as RecordedMessage[]).filter((m) => m.jobId === jobId);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }

  private connect(): void {
    const { baseUrl, token } = this.opts;
    const q = new URLSearchParams();
    const byUrl = (this.opts.auth ?? 'url') === 'url';
    if (byUrl) {
      q.set('token', token);
      if (this.lastEventId) q.set('lastEventId', this.lastEventId);
    }
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/ws${byUrl ? `?${q}` : ''}`);
    this.ws = ws;
    const conn: Connection = { servedBy: '', began: '' };
    this.connections.push(conn);
    ws.on('upgrade', (res) => {
      conn.servedBy = String(res.headers['x-served-by'] ?? '');
    });
    ws.on('open', () => {
      if (!byUrl)
        ws.send(
          JSON.stringify(
            this.lastEventId
              ? { type: 'resume', token, lastEventId: this.lastEventId }
              : { type: 'auth', token },
          ),
        );
    });
    ws.on('message', (data) => {
      const msg = { ...(JSON.parse(String(data)) as ServerMessage), at: Date.now() };
      this.attempt = 0;
      if (conn.began === '') conn.began = msg.type === 'snapshot' ? 'snapshot' : 'replay';
      this.messages.push(msg);
      if ('eventId' in msg && msg.eventId) {
        if (!this.lastEventId || compareEventIds(msg.eventId, this.lastEventId) > 0)
          this.lastEventId = msg.eventId;
      }
      applyServerMessage(this.jobs, msg);
      this.check();
    });
    ws.on('error', () => {
      // 'close' follows and reconnects.
    });
    ws.on('unexpected-response', (_req, res) => {
      conn.closeCode = res.statusCode;
      ws.terminate();
    });
    ws.on('close', (code) => {
      conn.closeCode ??= code;
      this.check();
      if (this.closed) return;
      if (++this.attempt > (this.opts.maxAttempts ?? 40)) return;
      const base = this.opts.baseDelayMs ?? 100;
      const delay =
        Math.min(this.opts.maxDelayMs ?? 2000, base * 2 ** (this.attempt - 1)) * (0.5 + Math.random());
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  }
}
