import type { FastifyRequest } from 'fastify';

/**
 * Query parameters that authorise a request: `/api/ws?token=` takes session tokens and API keys;
 * `sig` signs every link that works without a token (`/api/jobs/:id/result`,
 * `/api/uploads/:id/audio`, `/api/voices/:id/preview`), so a logged one would download another
 * user's audio until it expires. The other names are what a client might send by mistake (no
 * route takes them, but the request line is logged before it is refused).
 */
const SECRET_PARAMS = new Set([
  'token',
  'sig',
  'signature',
  'access_token',
  'apikey',
  'api_key',
  'key',
  'password',
]);

/** The URL with the value of every credential parameter replaced, for logs. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '));
      } catch {
        // a malformed name is logged as sent
      }
      return SECRET_PARAMS.has(decoded.trim().toLowerCase()) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/**
 * Fastify's request serializer (method, url, host, remote address) with credentials taken out of
 * the URL: every request log line goes through it, so a token in a query string never reaches
 * the logs.
 */
export function requestSerializer(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
