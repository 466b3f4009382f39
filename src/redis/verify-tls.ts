import { ConfigError } from '../errors/index.js';
import { openRedis } from './connection.js';
import { withoutPassword } from './password.js';
import { isCertificateRefused, tlsOf } from './tls.js';

/**
 * Start-up check of a `rediss://` Redis: one connection attempt, no retry. A certificate this
 * process does not trust (no CA, the wrong CA, another host's name) stops start-up with a
 * ConfigError naming host and reason; it would never heal by reconnecting. Redis being down or
 * unreachable is not this check's business: connections wait for it as they always do.
 * The message names the address without its password.
 */
export async function verifyRedisTls(url: string, timeoutMs = 5000): Promise<void> {
  if (!url.startsWith('rediss:')) return;
  const redis = openRedis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
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
  if (!refused) return;
  const u = new URL(withoutPassword(tlsOf(url).url));
  throw new ConfigError(
    `Redis at ${u.host} (REDIS_URL): its TLS certificate is not trusted (${refused.code}); ` +
      'set REDIS_TLS_CA_FILE to the CA that signed it, and check the host name it is issued for',
  );
}
