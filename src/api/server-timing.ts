import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Durations of the request's phases; only with SERVER_TIMING on, else undefined. */
    phases: PhaseTimes | undefined;
  }
}

/** The phases of one request and how long each took, as a `Server-Timing` header value. */
export class PhaseTimes {
  private readonly entries: string[] = [];
  private readonly marks = new Map<string, number>();

  add(name: string, ms: number): void {
    this.entries.push(`${name};dur=${ms.toFixed(2)}`);
  }

  /** Starts a phase that a later hook ends (`endMarked`). */
  mark(name: string): void {
    this.marks.set(name, performance.now());
  }

  /** Ends the phase begun by `mark(name)`, if one was begun (a request refused half-way has no end). */
  endMarked(name: string): void {
    const at = this.marks.get(name);
    if (at === undefined) return;
    this.add(name, performance.now() - at);
    this.marks.delete(name);
  }

  header(totalMs: number): string {
    return [...this.entries, `total;dur=${totalMs.toFixed(2)}`].join(', ');
  }
}

/**
 * Runs one phase of a request and, with SERVER_TIMING on, records how long it took. Off, it is a
 * plain call: no clock is read and nothing is kept.
 */
export async function timed<T>(request: FastifyRequest, name: string, work: () => Promise<T>): Promise<T> {
  const phases = request.phases;
  if (!phases) return work();
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    phases.add(name, performance.now() - t0);
  }
}

/** The clock at the start of a phase whose code is too long to wrap in `timed`; undefined when off. */
export function phaseStart(request: FastifyRequest): number | undefined {
  return request.phases ? performance.now() : undefined;
}

/** Records a phase begun with `phaseStart` (nothing when SERVER_TIMING is off). */
export function phaseEnd(request: FastifyRequest, name: string, start: number | undefined): void {
  if (start !== undefined) request.phases?.add(name, performance.now() - start);
}

/**
 * `Server-Timing` on every answer of this scope when `SERVER_TIMING` is on (bench/api-latency.ts
 * reads it): each phase wrapped in `timed`, `parse` (after the onRequest hooks: reading, parsing
 * and validating the body, up to the handler), `reply` (serializing the answer and the onSend
 * hooks before this one), and `total` from the request's arrival to the reply. The names say which
 * step of the server took the time, never what it did it with.
 */
export function installServerTiming(app: FastifyInstance): void {
  app.decorateRequest('phases', undefined);
  if (!app.config.serverTiming) return;
  app.addHook('onRequest', async (request) => {
    request.phases = new PhaseTimes();
  });
  // preParsing runs after every onRequest hook (auth, rate, space), preHandler just before the handler.
  app.addHook('preParsing', async (request) => {
    request.phases?.mark('parse');
  });
  app.addHook('preHandler', async (request) => {
    request.phases?.endMarked('parse');
  });
  app.addHook('preSerialization', async (request, _reply, payload) => {
    request.phases?.mark('reply');
    return payload;
  });
  app.addHook('onSend', async (request, reply) => {
    request.phases?.endMarked('reply');
    if (request.phases) reply.header('server-timing', request.phases.header(reply.elapsedTime));
  });
}
