import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { UnavailableError } from '../errors/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: answered even while the event loop is overloaded (health, metrics). Default true. */
    shedUnderPressure?: boolean;
  }
}

/** Seconds a shed client is told to wait. */
export const PRESSURE_RETRY_AFTER_SEC = 5;

/**
 * Load shedding with `@fastify/under-pressure`: while the event loop's mean delay is over
 * MAX_EVENT_LOOP_DELAY_MS, requests get `503 VC_ERR_UNAVAILABLE` with Retry-After at once
 * instead of queueing behind the backlog. Routes marked `shedUnderPressure: false` are answered
 * (liveness, readiness with its own reason, metrics). 0 turns shedding off; `app.isUnderPressure`
 * stays for readiness.
 */
export const pressurePlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(underPressure, {
      // 0 turns the check off (the schema allows no negative value).
      maxEventLoopDelay: app.config.maxEventLoopDelayMs,
      retryAfter: PRESSURE_RETRY_AFTER_SEC,
      // Resolving lets the request through; rejecting hands the error to the one error handler.
      pressureHandler: async (request, reply, type, value) => {
        if (request.routeOptions.config?.shedUnderPressure === false) return;
        request.log.warn({ type, value }, 'request shed: server under pressure');
        reply.header('retry-after', String(PRESSURE_RETRY_AFTER_SEC));
        throw new UnavailableError('the server is overloaded; retry shortly');
      },
    });
  },
  { name: 'vcfarm-pressure', dependencies: ['vcfarm-config'] },
);
