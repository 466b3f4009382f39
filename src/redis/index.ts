export * from './core.js';
export { connectRedisFailFast, FAIL_FAST_COMMAND_TIMEOUT_MS, failFastRedisPlugin } from './fail-fast.js';
export { redisPlugin } from './plugin.js';
