import { ConfigError } from '../errors/index.js';

/** HAProxy's stats frontend holds at most this many connections (haproxy.cfg `frontend stats`). */
export const STATS_MAXCONN = 32;
/** A server's `maxconn` for HTTP requests is never below this, however few users. */
const MIN_SERVER_MAXCONN = 32;
/** The public frontend holds at least this many connections, however few users. */
const MIN_FRONTEND_MAXCONN = 256;
/**
 * Descriptors beyond two per connection: listeners, pollers, health checks, logs. HAProxy 2.6
 * itself counts 18 plus one per checked server (it refuses to start below 2 x maxconn + that);
 * this leaves room for a few more listeners and servers.
 */
const FIXED_MARGIN = 64;
const MARGIN_PER_SERVER = 2;
/** The kernel's default ceiling on any descriptor limit (fs.nr_open). */
export const NR_OPEN = 1_048_576;

export interface HaproxySizingOptions {
  /** Client connections the public frontend holds at once: every WebSocket and HTTP request. */
  connections: number;
  /** HTTP requests in flight at once over all instances (WebSockets excluded). */
  httpConnections: number;
  /** API instances: one server per backend each, with its health check. */
  servers: number;
  /** Descriptors HAProxy may open: `ulimit -Hn`, `LimitNOFILE=`, compose `ulimits`. */
  nofileLimit: number;
}

export interface HaproxySizing {
  /** Global `maxconn`: the public frontend's plus the stats page's. */
  maxconn: number;
  /** `maxconn` of `frontend www`. */
  frontendMaxconn: number;
  /** `maxconn` of `frontend stats`. */
  statsMaxconn: number;
  /** `maxconn` of each server of `backend api_http` (requests; more wait in HAProxy's queue). */
  serverMaxconn: number;
  /** Descriptors these need: two per proxied connection (client and server side) plus margin. */
  nofile: number;
}

const margin = (servers: number): number => FIXED_MARGIN + MARGIN_PER_SERVER * servers;

/** The most client connections HAProxy can hold with `nofileLimit` descriptors and these servers. */
export function maxConnectionsFor(nofileLimit: number, servers: number): number {
  return Math.max(0, Math.floor((nofileLimit - margin(servers)) / 2) - STATS_MAXCONN);
}

/**
 * HAProxy's connection limits sized from the descriptors it will really have. Throws a
 * ConfigError naming the numbers when they cannot fit in `nofileLimit`.
 */
export function haproxySizing(o: HaproxySizingOptions): HaproxySizing {
  for (const [name, v] of Object.entries(o))
    if (!Number.isInteger(v) || v < (name === 'httpConnections' ? 0 : 1))
      throw new ConfigError(`haproxy sizing: ${name} must be a positive integer, not ${v}`);
  const frontendMaxconn = Math.max(MIN_FRONTEND_MAXCONN, o.connections);
  const maxconn = frontendMaxconn + STATS_MAXCONN;
  const nofile = 2 * maxconn + margin(o.servers);
  if (nofile > o.nofileLimit)
    throw new ConfigError(
      `haproxy needs ${nofile} file descriptors for ${frontendMaxconn} client connections ` +
        `(2 x maxconn ${maxconn} + ${margin(o.servers)} for listeners and ${o.servers} servers) ` +
        `but may open only ${o.nofileLimit}: at most ${maxConnectionsFor(o.nofileLimit, o.servers)} ` +
        'client connections fit; raise the descriptor limit or lower the users',
    );
  return {
    maxconn,
    frontendMaxconn,
    statsMaxconn: STATS_MAXCONN,
    serverMaxconn: Math.max(MIN_SERVER_MAXCONN, Math.ceil(o.httpConnections / o.servers)),
    nofile,
  };
}

/** The sizing as shell assignments (MAXCONN=4128), for scripts/deploy-multiuser.sh to eval. */
export function sizingAsShell(s: HaproxySizing): string {
  return [
    `MAXCONN=${s.maxconn}`,
    `FRONTEND_MAXCONN=${s.frontendMaxconn}`,
    `STATS_MAXCONN=${s.statsMaxconn}`,
    `SERVER_MAXCONN=${s.serverMaxconn}`,
    `HAPROXY_NOFILE=${s.nofile}`,
  ].join('\n');
}
