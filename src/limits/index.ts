export { diskSpacePlugin, freeBytes } from './disk-space.js';
export { assertRoomForUpload, assertWithinStorage, type StorageUsage } from './quotas.js';
export { type RouteRateClass, rateLimitsPlugin } from './rate-limits.js';
