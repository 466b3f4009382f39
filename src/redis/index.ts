export { bullConnection, connectRedis } from './connection.js';
export { EmbeddedRedis, type EmbeddedRedisOptions } from './embedded-redis.js';
export { connectRedisFailFast, FAIL_FAST_COMMAND_TIMEOUT_MS, failFastRedisPlugin } from './fail-fast.js';
export { ensureRedisPassword, redisPasswordFile, withoutPassword, withPassword } from './password.js';
export { redisPlugin } from './plugin.js';
