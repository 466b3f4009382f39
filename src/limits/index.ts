export { BODY_RATE_WINDOW_MS, BodyRateGuard } from './body-rate.js';
export { diskSpacePlugin, freeBytes } from './disk-space.js';
export {
  assertRoomForOutput,
  assertRoomForUpload,
  assertWithinStorage,
  type StorageUsage,
} from './quotas.js';
export { type RouteRateClass, rateLimitsPlugin } from './rate-limits.js';
export { UploadSlots, uploadSlotsPlugin } from './upload-slots.js';
