import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from './client.js';

/**
 * The service settings a test needs to deliver to a receiver on loopback: private addresses allowed
 * (only in tests), retries 300 ms apart.
 */
export const RECEIVER_ENV = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '300' } as const;

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Json;
  at: number;
}

/**
 * A webhook receiver on loopback that records every POST. Paths starting with `/flaky` answer 500
 * to the first two attempts of each delivery id, then 200; every other path answers 200.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  private readonly server: http.Server;
  private readonly attempts = new Map<string, number>();
  private waiters: (() => void)[] = [];

  constructor() {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        raw += c;
      });
      req.on('end', () => {
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, raw, body: JSON.parse(raw), at: Date.now() });
        const id = String(req.headers['vcfarm-delivery']);
        const n = (this.attempts.get(id) ?? 0) + 1;
        this.attempts.set(id, n);
        res.statusCode = path.startsWith('/flaky') && n <= 2 ? 500 : 200;
        res.end();
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async waitFor(pred: (all: Received[]) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.received)) {
      if (Date.now() > deadline) throw new Error(`webhook receiver: timed out; got ${this.received.length}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Checks `vcfarm-signature: t=…,v1=…` the way a receiver would: HMAC-SHA256 of "t.body", fresh t. */
export function signatureValid(header: string | string[] | undefined, raw: string, secret: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(header));
  if (!m) return false;
  if (Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
}
