// The folder's surface without its Fastify plugin: what worker processes (and other folders' non-plugin code) import.
export { closeRedis, REDIS_QUIT_DEADLINE_MS } from './close.js';
export {
  CLUSTER_FAILOVER_WAIT_MS,
  clusterNodes,
  clusterOptions,
  clusterUrl,
  isClusterUnavailable,
  isClusterUrl,
} from './cluster.js';
export {
  type BullConnection,
  boundedRetry,
  bullConnection,
  connectRedis,
  isSentinelUrl,
  openRedis,
  REDIS_RETRY_MAX_MS,
  type RedisClient,
  sentinelOptions,
  sentinelUrl,
} from './connection.js';
export { EmbeddedRedis, type EmbeddedRedisOptions } from './embedded-redis.js';
export { connectionErrorLog } from './error-log.js';
export { type RedisWriteFault, redisFault } from './faults.js';
export { ensureRedisPassword, redisPasswordFile, withoutPassword, withPassword } from './password.js';
export { redisScript } from './script.js';
export { checkCaFile, isCertificateRefused, tlsOf, withTlsCa } from './tls.js';
export { verifyRedis } from './verify-mode.js';
export { verifyRedisTls } from './verify-tls.js';
