import type { Page, Request } from 'playwright-core';

/**
 * What a page asks of the API that counts against its user's `api` rate limit, by step of a walk:
 * every `/api` request carrying the bearer token, and apart from them the WebSockets (each
 * authenticates by its first message, which counts once). Signed links (players, downloads)
 * carry no token and count nothing; neither does `POST /api/session` (a bucket of its own).
 */
export class ApiTally {
  /** The step now: requests are filed under it. */
  step = 'start';
  readonly byStep = new Map<string, string[]>();
  /** WebSockets opened, over all steps. */
  sockets = 0;

  /** Starts counting what `page` asks. */
  watch(page: Page): void {
    page.on('request', (r) => {
      if (counted(r)) this.add(`${r.method()} ${new URL(r.url()).pathname}`);
    });
    page.on('websocket', () => {
      this.sockets++;
    });
  }

  /** Every counted request so far, sockets included. */
  get total(): number {
    let n = this.sockets;
    for (const list of this.byStep.values()) n += list.length;
    return n;
  }

  /** The requests of one step. */
  of(step: string): string[] {
    return this.byStep.get(step) ?? [];
  }

  /** One line per step: its count and its requests, for the messages. */
  toString(): string {
    const steps = [...this.byStep].map(([step, list]) => `${step}: ${list.length} (${summary(list)})`);
    return [...steps, `WebSockets: ${this.sockets}`].join('; ');
  }

  private add(line: string): void {
    const list = this.byStep.get(this.step) ?? [];
    list.push(line);
    this.byStep.set(this.step, list);
  }
}

function counted(r: Request): boolean {
  const url = new URL(r.url());
  return url.pathname.startsWith('/api/') && /^Bearer /i.test(r.headers().authorization ?? '');
}

/** "GET /api/voices ×2, POST /api/jobs" */
function summary(list: string[]): string {
  const counts = new Map<string, number>();
  for (const line of list) counts.set(line, (counts.get(line) ?? 0) + 1);
  return [...counts].map(([line, n]) => (n > 1 ? `${line} ×${n}` : line)).join(', ');
}
