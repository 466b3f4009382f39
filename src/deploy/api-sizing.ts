import { ConfigError } from '../errors/index.js';

/**
 * Descriptors an API instance needs besides its WebSockets and proxied requests: its Redis
 * connections (commands, subscriber, BullMQ), listeners, files being streamed or written,
 * ffprobe pipes of uploads being checked, and Node's own (stdio, epoll, libuv's pipes).
 */
export const API_FIXED_NOFILE = 256;
/** No instance runs below the usual soft limit, however few users. */
const MIN_API_NOFILE = 1024;
/** The largest WS_MAX_SOCKETS the configuration accepts (src/config/schema.ts). */
export const WS_MAX_SOCKETS_CEILING = 1_000_000;

export interface ApiSocketOptions {
  /** WebSockets this instance is expected to hold: its share of every user's. */
  websockets: number;
  /** HTTP requests HAProxy sends it at once (`serverMaxconn` of `haproxySizing`). */
  requests: number;
}

/** The descriptor limit an API instance is given: its WebSockets and requests plus the fixed part. */
export function apiNofileFor(o: ApiSocketOptions): number {
  for (const [name, v] of Object.entries(o))
    if (!Number.isInteger(v) || v < 0)
      throw new ConfigError(`api sizing: ${name} must be a whole number, not ${v}`);
  return Math.max(MIN_API_NOFILE, o.websockets + o.requests + API_FIXED_NOFILE);
}

/**
 * WS_MAX_SOCKETS for an instance that may open `nofileLimit` descriptors and serves `requests`
 * HTTP requests at once: what is left after those and the fixed part. Past it the instance
 * refuses upgrades with 503 (HAProxy retries another) instead of failing accept() with EMFILE.
 * At most WS_MAX_SOCKETS_CEILING (a process started under the kernel's own ceiling).
 */
export function wsMaxSocketsFor(nofileLimit: number, requests: number): number {
  const ws = nofileLimit - requests - API_FIXED_NOFILE;
  if (!Number.isInteger(ws) || ws < 1)
    throw new ConfigError(
      `an API instance limited to ${nofileLimit} file descriptors has none left for WebSockets ` +
        `after ${requests} requests and ${API_FIXED_NOFILE} for Redis, files and listeners; raise the descriptor limit`,
    );
  return Math.min(ws, WS_MAX_SOCKETS_CEILING);
}
