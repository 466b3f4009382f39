export * from './core.js';
export { connectRedisFailFast, FAIL_FAST_COMMAND_TIMEOUT_MS, failFastRedisPlugin } from './fail-fast.js';
export { redisPlugin } from './plugin.js';
export { checkCaFile, isCertificateRefused, tlsOf, withTlsCa } from './tls.js';
export { verifyRedisTls } from './verify-tls.js';
