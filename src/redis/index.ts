export { bullConnection, connectRedis } from './connection.js';
export { EmbeddedRedis, type EmbeddedRedisOptions } from './embedded-redis.js';
export { redisPlugin } from './plugin.js';
