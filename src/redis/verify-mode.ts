import { Redis } from 'ioredis';
import { ConfigError } from '../errors/index.js';
import { clusterNodes, clusterOptions, isClusterUrl } from './cluster.js';
import { withoutPassword } from './password.js';
import { tlsOf } from './tls.js';
import { verifyRedisTls } from './verify-tls.js';

/** A password the server refuses: a setting to fix, which would not heal by reconnecting. */
const REFUSED_PASSWORD = /^(WRONGPASS|NOAUTH)/;

/** One connection attempt, no retry: `INFO cluster`'s `cluster_enabled`, or undefined when unreachable. */
async function clusterEnabled(redis: Redis): Promise<boolean | undefined> {
  // A refused AUTH arrives as an 'error' event; connect() then only says the connection closed.
  let refused: Error | undefined;
  redis.on('error', (err: Error) => {
    if (REFUSED_PASSWORD.test(err.message)) refused ??= err;
  });
  try {
    await redis.connect();
    return /^cluster_enabled:1/m.test(await redis.info('cluster'));
  } catch (err) {
    if (REFUSED_PASSWORD.test((err as Error).message)) refused ??= err as Error;
    if (refused) throw refused;
    return undefined;
  } finally {
    redis.disconnect();
  }
}

const ONCE = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
};

/** The cluster's seed nodes must be cluster nodes, reached with the password given. */
async function verifyCluster(url: string, timeoutMs: number): Promise<void> {
  const { redisOptions } = clusterOptions(url, { connectTimeout: timeoutMs });
  for (const node of clusterNodes(url)) {
    let enabled: boolean | undefined;
    try {
      enabled = await clusterEnabled(
        new Redis({ ...redisOptions, ...ONCE, host: node.host, port: node.port }),
      );
    } catch (err) {
      throw new ConfigError(
        `Redis Cluster node ${node.host}:${node.port} (REDIS_CLUSTER_NODES) refused the password (${(err as Error).message.split(' ')[0]}); check REDIS_PASSWORD_FILE`,
      );
    }
    if (enabled === false)
      throw new ConfigError(
        `Redis at ${node.host}:${node.port} (REDIS_CLUSTER_NODES) is not a cluster node (cluster support is off); ` +
          'name a single Redis with REDIS_URL instead, or start the nodes with cluster-enabled yes',
      );
    // One node that answers says enough: the client learns the others from it.
    if (enabled) return;
  }
}

/** A single Redis (REDIS_URL) must not be a cluster node: most keys would answer MOVED. */
async function verifySingle(url: string, timeoutMs: number): Promise<void> {
  const { url: plain, tls } = tlsOf(url);
  const redis = new Redis(plain, { ...ONCE, connectTimeout: timeoutMs, ...(tls ? { tls } : {}) });
  const enabled = await clusterEnabled(redis).catch(() => undefined);
  if (enabled)
    throw new ConfigError(
      `Redis at ${new URL(withoutPassword(plain)).host} (REDIS_URL) is a node of a Redis Cluster; ` +
        'set REDIS_CLUSTER_NODES to its nodes instead (with REDIS_PREFIX a hash tag such as {vcfarm})',
    );
}

/**
 * Start-up checks of the Redis the settings name, one connection attempt each and no retry: a TLS
 * certificate this process does not trust (verifyRedisTls), a cluster node named as a single Redis
 * (REDIS_URL) or a single Redis named as a cluster (REDIS_CLUSTER_NODES), and on a cluster a
 * password the nodes refuse. Each stops start-up with a ConfigError naming the variable: none
 * would heal by reconnecting. Redis being down or unreachable passes: connections wait for it.
 */
export async function verifyRedis(url: string, timeoutMs = 5000): Promise<void> {
  if (isClusterUrl(url)) return verifyCluster(url, timeoutMs);
  await verifyRedisTls(url, timeoutMs);
  if (url.startsWith('redis:') || url.startsWith('rediss:')) await verifySingle(url, timeoutMs);
}
