export {
  assertRoomForOutput,
  assertRoomForUpload,
  assertWithinStorage,
  type StorageUsage,
} from './quotas.js';
export { type RouteRateClass, rateLimitsPlugin } from './rate-limits.js';
