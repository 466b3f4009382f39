import cors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ForbiddenError } from '../errors/index.js';

/** Methods that change nothing, so a request from any origin may run (the browser hides the answer). */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** Request headers an allowed page may send, and answer headers it may read. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'content-range'];
const EXPOSED_HEADERS = [
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-request-id',
  'content-disposition',
  'location',
];

/** The request's own origin's host: `Host` (or X-Forwarded-Host from TRUSTED_PROXIES). */
function sameOrigin(request: FastifyRequest, origin: string): boolean {
  try {
    return new URL(origin).host === request.host.toLowerCase();
  } catch {
    return false; // `Origin: null` (a sandboxed frame, a file) or garbage
  }
}

/**
 * Cross-origin requests. The page is served by the API itself, so it is same-origin; other
 * origins get CORS answers only when listed in CORS_ORIGINS (@fastify/cors answers their
 * preflights). A state-changing request whose `Origin` is neither is refused 403 here, in the first
 * onRequest hook, before authentication, rate limits or a handler: a form or `fetch(..., {mode:
 * 'no-cors'})` on another site cannot spend the per-IP session limit or act with a cookie-less
 * bearer token it does not have anyway.
 */
export const corsPlugin = fp(
  async (app: FastifyInstance) => {
    const allowed = new Set(app.config.corsOrigins);
    app.addHook('onRequest', async (request) => {
      const origin = request.headers.origin;
      if (!origin || SAFE_METHODS.has(request.method)) return;
      if (allowed.has(origin.toLowerCase()) || sameOrigin(request, origin)) return;
      throw new ForbiddenError(
        `requests from the origin ${JSON.stringify(origin.slice(0, 200))} are not allowed here: the operator lists the web origins that may call this API in CORS_ORIGINS`,
      );
    });
    await app.register(cors, {
      origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin.toLowerCase())),
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      // The API authenticates with bearer tokens, never cookies.
      credentials: false,
      maxAge: 600,
      strictPreflight: false,
    });
  },
  { name: 'vcfarm-cors', dependencies: ['vcfarm-config'] },
);
