import type { ConnectionOptions } from 'bullmq';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { isClusterUrl, openCluster } from './cluster.js';
import { type ConnectionLog, connectionErrorLog } from './error-log.js';
import { tlsCaOf, tlsOf } from './tls.js';

export type { ConnectionLog } from './error-log.js';

/**
 * A connection as vcfarm uses it: one Redis (direct or found through Sentinel) or a Redis
 * Cluster. Both take the same commands; on a cluster every multi-key command, transaction,
 * pipeline and script must stay within one slot, which the hash-tagged REDIS_PREFIX gives.
 */
export type RedisClient = Redis | Cluster;

/** Longest wait between two reconnection attempts: once Redis is back, everything is within this. */
export const REDIS_RETRY_MAX_MS = 1000;

/**
 * ioredis `retryStrategy` for every connection: 100 ms, 200 ms, ... capped at 1 s, forever
 * (BullMQ's default grows to 20 s, so a worker resumed up to 20 s after Redis came back).
 */
export function boundedRetry(times: number): number {
  return Math.min(times * 100, REDIS_RETRY_MAX_MS);
}

/**
 * REDIS_SENTINELS + REDIS_MASTER_NAME as one URL, so the Redis address keeps flowing through the
 * code as a string (and withPassword/withoutPassword/withTlsCa work on it):
 * `redis-sentinel://[:password@]<master name>/<db>?sentinels=host:port,host:port`, or
 * `rediss-sentinel://...` when the sentinels and the Redis servers speak TLS only.
 */
export function sentinelUrl(sentinels: string, masterName: string, db = 0, tls = false): string {
  const scheme = tls ? 'rediss-sentinel' : 'redis-sentinel';
  return `${scheme}://${encodeURIComponent(masterName)}/${db}?sentinels=${encodeURIComponent(sentinels)}`;
}

/** Whether `url` names the sentinels rather than one Redis. */
export function isSentinelUrl(url: string): boolean {
  return /^rediss?-sentinel:/.test(url);
}

/**
 * ioredis options for a `redis(s)-sentinel:` URL (the master is asked of the sentinels on every
 * (re)connection, so a failover is followed), or undefined for a plain redis(s):// URL. With
 * TLS, the sentinels (`sentinelTLS`) and the master they name (`tls`, `enableTLSForSentinelMode`)
 * are reached over TLS, trusting the URL's CA file (withTlsCa) or else Node's CAs.
 */
export function sentinelOptions(url: string): RedisOptions | undefined {
  if (!isSentinelUrl(url)) return undefined;
  const u = new URL(url);
  const sentinels = (u.searchParams.get('sentinels') ?? '').split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
  const options: RedisOptions = {
    sentinels,
    name: decodeURIComponent(u.hostname),
    db: Number(u.pathname.slice(1) || 0),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    sentinelRetryStrategy: boundedRetry,
  };
  if (u.protocol !== 'rediss-sentinel:') return options;
  const tls = tlsCaOf(url) ?? {};
  return { ...options, sentinelTLS: tls, tls, enableTLSForSentinelMode: true };
}

/**
 * A connection to `url` (redis://, rediss://, redis-sentinel:// or redis-cluster://) with these
 * options; a URL naming a CA file (withTlsCa) trusts that CA.
 */
export function openRedis(url: string, options: RedisOptions): RedisClient {
  if (isClusterUrl(url)) return openCluster(url, options);
  const sentinel = sentinelOptions(url);
  if (sentinel) return new Redis({ ...sentinel, ...options });
  const { url: plain, tls } = tlsOf(url);
  return new Redis(plain, tls ? { ...options, tls } : options);
}

/**
 * A new connection (it reconnects by itself). BullMQ needs `maxRetriesPerRequest: null` on
 * blocking connections; the same setting suits every long-lived connection here (commands wait
 * for a reconnect instead of failing after a few tries). Its errors (each reconnect attempt during
 * an outage) go to `log` at most once per 5 s each, never to ioredis's "Unhandled error event".
 */
export function connectRedis(url: string, name: string, log: ConnectionLog): RedisClient {
  const redis = openRedis(url, {
    maxRetriesPerRequest: null,
    connectionName: name,
    retryStrategy: boundedRetry,
  });
  // Always a listener: without one ioredis prints "Unhandled error event" for every failed
  // reconnect (and, with Sentinel, "All sentinels are unreachable" each time it cycles through them).
  redis.on('error', connectionErrorLog(log)(name));
  return redis;
}

/** BullMQ's `connection` for one Queue or Worker, and what to do once that is closed. */
export interface BullConnection {
  connection: ConnectionOptions;
  /**
   * Ends the cluster client made for it: BullMQ is handed a ready client on a cluster (it cannot
   * make one from options) and leaves such clients open on close. Nothing to do otherwise.
   */
  release(): void;
}

/**
 * The connection BullMQ gets, with the same bounded reconnect delay (or `retryStrategy`: null
 * from it stops reconnecting). Options for one Redis or Sentinel, which BullMQ turns into clients
 * it owns; a Cluster client for a `redis-cluster:` URL.
 */
export function bullConnection(
  url: string,
  retryStrategy: (times: number) => number | null = boundedRetry,
): BullConnection {
  const common = { maxRetriesPerRequest: null, retryStrategy };
  if (isClusterUrl(url)) {
    const cluster = openCluster(url, common);
    // BullMQ forwards the client's errors to its own 'error' event while open; after that, none.
    cluster.on('error', () => {});
    return { connection: cluster as ConnectionOptions, release: () => cluster.disconnect() };
  }
  const release = () => {};
  const sentinel = sentinelOptions(url);
  // BullMQ's ConnectionOptions is its own copy of ioredis's RedisOptions (plus `url`).
  if (sentinel) return { connection: { ...sentinel, ...common } as ConnectionOptions, release };
  const { url: plain, tls } = tlsOf(url);
  const options = tls ? { url: plain, tls, ...common } : { url: plain, ...common };
  return { connection: options as ConnectionOptions, release };
}
