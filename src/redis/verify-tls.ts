import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../errors/index.js';
import { isSentinelUrl, openRedis, type RedisClient, sentinelOptions } from './connection.js';
import { withoutPassword } from './password.js';
import { isCertificateRefused, tlsOf } from './tls.js';

/** One connection attempt, no retry: the error if the server's certificate was refused. */
async function certificateRefused(redis: RedisClient): Promise<NodeJS.ErrnoException | undefined> {
  let refused: NodeJS.ErrnoException | undefined;
  redis.on('error', (err) => {
    if (isCertificateRefused(err)) refused ??= err;
  });
  try {
    await redis.connect();
  } catch (err) {
    if (isCertificateRefused(err)) refused ??= err;
  } finally {
    redis.disconnect();
  }
  return refused;
}

const oneAttempt = (timeoutMs: number): RedisOptions => ({
  lazyConnect: true,
  connectTimeout: timeoutMs,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
});

const untrusted = (what: string, err: NodeJS.ErrnoException): ConfigError =>
  new ConfigError(
    `${what}: its TLS certificate is not trusted (${err.code}); ` +
      'set REDIS_TLS_CA_FILE to the CA that signed it, and check the host name it is issued for',
  );

/**
 * Start-up check of a `rediss://` Redis, or of TLS sentinels (`rediss-sentinel:`, each one): one
 * connection attempt, no retry. A certificate this process does not trust (no CA, the wrong CA,
 * another host's name) stops start-up with a ConfigError naming host and reason; it would never
 * heal by reconnecting. Redis being down or unreachable is not this check's business:
 * connections wait for it as they always do. The message names the address without its password.
 */
export async function verifyRedisTls(url: string, timeoutMs = 5000): Promise<void> {
  if (isSentinelUrl(url)) {
    const o = sentinelOptions(url);
    if (!o?.sentinelTLS) return;
    // Every sentinel at once: an unreachable one costs one timeout, not one each.
    const sentinels = (o.sentinels ?? []) as { host?: string; port?: number }[];
    const results = await Promise.all(
      sentinels.map(({ host = '', port = 0 }) =>
        certificateRefused(new Redis({ ...oneAttempt(timeoutMs), host, port, tls: o.sentinelTLS })),
      ),
    );
    const i = results.findIndex(Boolean);
    const refused = results[i];
    if (refused)
      throw untrusted(
        `Redis sentinel at ${sentinels[i].host}:${sentinels[i].port} (REDIS_SENTINELS)`,
        refused,
      );
    return;
  }
  if (!url.startsWith('rediss:')) return;
  const refused = await certificateRefused(openRedis(url, oneAttempt(timeoutMs)));
  if (refused)
    throw untrusted(`Redis at ${new URL(withoutPassword(tlsOf(url).url)).host} (REDIS_URL)`, refused);
}
