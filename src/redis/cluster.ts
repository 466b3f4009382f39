import { readFileSync } from 'node:fs';
import { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * REDIS_CLUSTER_NODES as one URL, so the Redis address keeps flowing through the code as a string
 * (withPassword, withoutPassword and withTlsCa work on it as on the others):
 * `redis-cluster://[:password@]cluster/?nodes=host:port,host:port[&tlsCaFile=…]`. The host part
 * is a fixed placeholder: the nodes are the seed list, and the client learns the rest from them.
 */
export function clusterUrl(nodes: string): string {
  return `redis-cluster://cluster/?nodes=${encodeURIComponent(nodes)}`;
}

export function isClusterUrl(url: string): boolean {
  return url.startsWith('redis-cluster:');
}

/** The seed nodes of a `redis-cluster:` URL. */
export function clusterNodes(url: string): { host: string; port: number }[] {
  return (new URL(url).searchParams.get('nodes') ?? '').split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
}

/** How often a command meeting a dead node or CLUSTERDOWN is tried again while slots move. */
const FAILOVER_RETRY_MS = 100;

/**
 * How long a command on a long-lived connection (`maxRetriesPerRequest: null`: it waits for Redis
 * rather than fail) waits for a failover: the dead primary's `cluster-node-timeout` (15 s by
 * default) plus the replica's election. Other connections give up after ioredis's 16 tries.
 */
export const CLUSTER_FAILOVER_WAIT_MS = 30_000;

/**
 * Cluster options for a `redis-cluster:` URL from the options a single connection would get:
 * `retryStrategy` and `enableOfflineQueue` are the cluster's own, everything else (password,
 * TLS with the URL's CA file, timeouts, the connection name) goes to each node's connection.
 * A failover is followed by the client: a command meeting the dead node, CLUSTERDOWN or TRYAGAIN
 * is tried again every FAILOVER_RETRY_MS with the slots read again.
 */
export function clusterOptions(url: string, options: RedisOptions): ClusterOptions {
  const u = new URL(url);
  const caFile = u.searchParams.get('tlsCaFile');
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...perNode } = options;
  return {
    clusterRetryStrategy: retryStrategy,
    enableOfflineQueue,
    lazyConnect,
    retryDelayOnFailover: FAILOVER_RETRY_MS,
    retryDelayOnClusterDown: FAILOVER_RETRY_MS,
    retryDelayOnTryAgain: FAILOVER_RETRY_MS,
    ...(options.maxRetriesPerRequest === null
      ? { maxRedirections: CLUSTER_FAILOVER_WAIT_MS / FAILOVER_RETRY_MS }
      : {}),
    // Slots are read again this often, so a promoted replica is found even by an idle client.
    slotsRefreshInterval: 2000,
    redisOptions: {
      ...perNode,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      ...(caFile ? { tls: { ca: readFileSync(caFile, 'utf8') } } : {}),
    },
  };
}

/** A cluster client for a `redis-cluster:` URL with these (single-connection style) options. */
export function openCluster(url: string, options: RedisOptions): Cluster {
  return new Cluster(clusterNodes(url), clusterOptions(url, options));
}

/**
 * Whether `err` is a cluster client giving up while slots move (a primary died and its replica is
 * not promoted yet): the dependency's state, like a closed connection, not a bug. ioredis gives
 * these no code, so its messages (and Redis's CLUSTERDOWN/TRYAGAIN replies) are matched.
 */
export function isClusterUnavailable(err: Error): boolean {
  return (
    err.name === 'ClusterAllFailedError' ||
    /^(Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|CLUSTERDOWN|TRYAGAIN)/.test(
      err.message,
    )
  );
}
