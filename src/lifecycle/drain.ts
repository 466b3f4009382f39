import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { withDeadline } from './deadline.js';

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

/** Where this instance is in its life; `/health` reads it. */
export class Lifecycle {
  /** Set when shutdown begins: `/health` answers 503 while requests are still served. */
  draining = false;
}

/**
 * Decorates `lifecycle` unless the root instance already has it: `buildServer` puts it on the
 * root, where `drainAndClose` reaches it (the app itself is an encapsulated child of the root).
 */
export const lifecyclePlugin = fp(
  async (app: FastifyInstance) => {
    if (!app.hasDecorator('lifecycle')) app.decorate('lifecycle', new Lifecycle());
  },
  { name: 'vcfarm-lifecycle' },
);

/**
 * Graceful stop behind a load balancer: `/health` turns 503 first, the instance keeps serving
 * for `drainMs` (longer than the balancer's check interval × fall count, so it stops sending
 * here), then `app.close()` lets in-flight requests finish and closes the WebSockets, whose
 * clients reconnect through the balancer to another instance and resume.
 */
export async function drainAndClose(
  app: FastifyInstance,
  drainMs: number,
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>,
  closeTimeoutMs = 10_000,
): Promise<void> {
  app.lifecycle.draining = true;
  if (drainMs > 0) {
    log.info({ drainMs }, 'draining: /health answers 503 while requests are still served');
    await new Promise((resolve) => setTimeout(resolve, drainMs));
  }
  // Bounded: what is still open after the deadline ends with the process.
  if ((await withDeadline(app.close(), closeTimeoutMs)) === 'timeout')
    log.warn({ closeTimeoutMs }, 'close did not finish within its deadline; stopping anyway');
}
