import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import fp from 'fastify-plugin';
import { IDEMPOTENT_ROUTES } from '../idempotency/index.js';
import { HTTP_STATUS } from './error-handler.js';
import { IdempotencyKey } from './fields.js';
import { ErrorBody } from './schemas.js';
import { WEBHOOKS } from './webhook-schemas.js';
import { WsClientMessage, WsServerMessage } from './ws-messages.js';

/** Who may call a route, by URL: the document's `security` and the 401 it adds follow from it. */
export function accessOf(url: string): 'public' | 'admin' | 'user' | 'user-or-signed' {
  if (/^\/api\/(admin|system|queue)\//.test(url) || url === '/metrics') return 'admin';
  if (url === '/api/session' || url === '/health' || url === '/api/ws' || !url.startsWith('/api/'))
    return 'public';
  if (url.startsWith('/api/openapi') || url.startsWith('/api/docs')) return 'public';
  if (
    url === '/api/jobs/{id}/result' ||
    url === '/api/uploads/{id}/audio' ||
    url === '/api/voices/{id}/preview'
  )
    return 'user-or-signed';
  return 'user';
}

type Requirement = Record<string, string[]>;
const USER: Requirement[] = [{ sessionToken: [] }, { apiKey: [] }];
const SECURITY: Record<ReturnType<typeof accessOf>, Requirement[]> = {
  public: [],
  admin: [{ adminToken: [] }],
  user: USER,
  'user-or-signed': [...USER, {}],
};

function errorTable(): string {
  const rows = Object.entries(HTTP_STATUS)
    .sort(([, a], [, b]) => a - b)
    .map(([code, status]) => `| \`${code}\` | ${status} |`);
  return ['| error code | HTTP status |', '|---|---|', ...rows].join('\n');
}

const DESCRIPTION = `Upload audio, ask for a conversion, watch it progress live, download the result.

Errors are JSON \`{"error": CODE, "message": ...}\` (schema \`Error\`). The codes and their statuses:

${errorTable()}

\`GET /api/ws\` is a WebSocket: the server sends \`WsServerMessage\`s (a snapshot of the caller's jobs,
then events, each with an \`eventId\`), the client may send one \`WsClientMessage\` first. Close codes:
4401 no valid token, 4429 too many sockets, 1011 server error.`;

const ErrorRef = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };

/** @fastify/websocket hides its routes from the document; the socket is described here instead. */
const WS_PATH = {
  get: {
    summary: 'Live job events over a WebSocket',
    description:
      'Upgrade to a WebSocket. Server messages: `WsServerMessage`; the first client message, when the token is not in the URL: `WsClientMessage`.',
    security: [],
    parameters: [
      {
        name: 'token',
        in: 'query',
        required: false,
        description: 'A session token or API key; else send an `auth` or `resume` message first.',
        schema: { type: 'string', maxLength: 256 },
      },
      {
        name: 'lastEventId',
        in: 'query',
        required: false,
        description: 'Resume after this event id (the highest one seen).',
        schema: { type: 'string', maxLength: 40 },
      },
    ],
    responses: {
      101: {
        description: 'Switching protocols; then `WsServerMessage`s',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/WsServerMessage' } } },
      },
      400: {
        description: 'Not an upgrade (a plain GET), or a query parameter out of form',
        ...ErrorRef,
      },
      401: { description: 'The token in the URL is not valid', ...ErrorRef },
      429: { description: 'Too many sockets or upgrades for this user', ...ErrorRef },
      503: { description: 'The instance holds WS_MAX_SOCKETS sockets (Retry-After)', ...ErrorRef },
    },
  },
};

const BINARY = { type: 'string', format: 'binary' };
const AUDIO = { 'audio/*': { schema: BINARY } };

/**
 * Success answers that are not JSON (audio, pages, metrics) carry no runtime response schema (the
 * serializer has nothing to do with them); the document describes them here, by route.
 */
const NON_JSON_RESPONSES: Record<string, Record<string, unknown>> = {
  'GET /api/jobs/{id}/result': {
    200: {
      description:
        'The audio. With `partial=1` while the job runs: what is written so far, then followed as it grows (chunked, no Range) until the job ends',
      content: AUDIO,
    },
    206: { description: 'A range of the finished file', content: AUDIO },
    409: {
      description:
        'Without `partial=1`: the job is still queued or running (`VC_ERR_JOB_NOT_FINISHED`, its state in the message). With `partial=1`: nothing converted yet after 60 s (Retry-After)',
      ...ErrorRef,
    },
  },
  'GET /api/uploads/{id}/audio': {
    200: { description: 'The uploaded original as sent', content: AUDIO },
    206: { description: 'A range of it', content: AUDIO },
  },
  'GET /api/voices/{id}/preview': {
    200: {
      description: "A preset's preview (a few seconds of Opus), or one's own voice's reference recording",
      content: AUDIO,
    },
    206: { description: 'A range of it', content: AUDIO },
  },
  'GET /metrics': {
    200: {
      description: 'Prometheus text exposition format',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
  },
  'GET /': {
    200: { description: 'The workspace page', content: { 'text/html': { schema: { type: 'string' } } } },
  },
  'GET /admin': {
    200: {
      description: 'The operations dashboard',
      content: { 'text/html': { schema: { type: 'string' } } },
    },
  },
  'GET /api/openapi.json': {
    200: { description: 'This document', content: { 'application/json': { schema: { type: 'object' } } } },
  },
};

/**
 * The refusals a route can answer whatever its handler does, so the document lists every status
 * the route really returns: 400 where a schema checks the request (a malformed id, query or
 * body), 415 where it takes a body (of another type), 404 for an id in the path, 401/403/429 by
 * who may call it (429: a user's rate limits, or an address past ADMIN_FAILURES_PER_IP), and for
 * the three signed audio routes 403 (a link altered or expired), 416 (a valid Range that starts past the end)
 * and 404.
 */
function refusals(
  access: ReturnType<typeof accessOf>,
  url: string,
  schema: FastifySchema,
): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  if (schema.params || schema.querystring || schema.body) out[400] = ErrorBody;
  if (schema.body) out[415] = ErrorBody; // a body of a type the route does not parse
  if (access === 'public') return out;
  out[401] = ErrorBody;
  out[429] = ErrorBody;
  if (access === 'admin') out[403] = ErrorBody;
  if (url.includes('{')) out[404] = ErrorBody;
  if (access === 'user-or-signed') {
    out[403] = ErrorBody;
    out[404] = ErrorBody;
    out[416] = ErrorBody;
  }
  return out;
}

/**
 * The OpenAPI 3.1 document, generated from the routes' own schemas, at /api/openapi.json, and a
 * browsable reference at /api/docs. Registered before the routes so that it sees every one.
 */
export const openApiPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'vcfarm', version: '1', description: DESCRIPTION },
        components: {
          securitySchemes: {
            sessionToken: {
              type: 'http',
              scheme: 'bearer',
              description: 'An anonymous session token from POST /api/session.',
            },
            apiKey: {
              type: 'http',
              scheme: 'bearer',
              description: "A user's API key, issued by the administrator (POST /api/admin/users).",
            },
            adminToken: {
              type: 'http',
              scheme: 'bearer',
              description: 'The admin token (ADMIN_TOKEN or ADMIN_TOKEN_FILE).',
            },
          },
          schemas: {
            Error: {
              ...ErrorBody,
              properties: {
                ...ErrorBody.properties,
                error: { type: 'string', enum: Object.keys(HTTP_STATUS) },
              },
            },
            WsServerMessage,
            WsClientMessage,
          } as never,
        },
      },
      transformObject: (doc) =>
        'openapiObject' in doc
          ? {
              ...doc.openapiObject,
              paths: { ...doc.openapiObject.paths, '/api/ws': WS_PATH },
              webhooks: WEBHOOKS,
            }
          : doc.swaggerObject,
      transform: ({ schema, url, route }) => {
        // Fastify's `:id`, as the document (and accessOf) write it: `{id}`.
        const path = url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
        const access = accessOf(path);
        const doc: FastifySchema & Record<string, unknown> = { ...(schema ?? {}) };
        doc.security = SECURITY[access];
        const methods = [route.method].flat();
        const nonJson = NON_JSON_RESPONSES[`${methods[0]} ${path}`];
        if (nonJson) doc.response = { ...nonJson, ...((doc.response as Record<string, unknown>) ?? {}) };
        doc.response = {
          ...refusals(access, path, doc),
          ...((doc.response as Record<string, unknown>) ?? {}),
        };
        if (methods.some((m) => IDEMPOTENT_ROUTES.includes(`${m} ${url}`)))
          doc.headers = {
            type: 'object',
            properties: {
              'idempotency-key': {
                ...IdempotencyKey,
                description:
                  'Same key and body within 24 h: the first answer again; another body: 409 VC_ERR_IDEMPOTENCY_MISMATCH',
              },
            },
          };
        return { schema: doc, url };
      },
    });
    // Without Swagger UI's top bar: its logo is an SVG with an inline <style>, the one thing the
    // service's strict CSP (style-src 'self') blocks on this page. The rest of the UI styles only
    // from its own files and through the CSSOM, so the page runs under the same policy as every
    // other answer; no per-route exception. (The bar's other part, a box to load another URL's
    // document, has no use here.)
    await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { layout: 'BaseLayout' } });
    app.get('/api/openapi.json', async () => app.swagger());
  },
  { name: 'vcfarm-openapi' },
);
