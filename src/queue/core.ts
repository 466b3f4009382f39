// The folder's surface without its Fastify plugin: what worker processes (and other folders' non-plugin code) import.
export { recentFailures, usageByUser } from './admin-views.js';
export {
  BULL_PRIORITY,
  type CancelledBy,
  type CloneJobData,
  CONVERSION_QUEUE,
  type ConversionJobData,
  type ConversionJobView,
  type ConversionResult,
  type ConvertJobData,
  cancelMessage,
  type FailureView,
  hasOwnWebhook,
  type JobPriority,
  type JobProgress,
  type JobWebhook,
  type PublicJobState,
  type UserUsage,
  type WebhookEvent,
} from './conversion-job.js';
export {
  type CloneRequest,
  ConversionQueue,
  type ConversionQueueOptions,
  type ConversionRequest,
  type PartialResult,
} from './conversion-queue.js';
export {
  allowedPriority,
  FAIR_SHARE_STEP,
  FairShare,
  fairPriority,
  JOB_PRIORITY_OFFSET,
  releaseSlotsWhenRecorded,
  withFairShare,
} from './fair-share.js';
export { publicState, toJobView } from './job-view.js';
export { KEEP_FINISHED_SEC, queueKeys } from './keys.js';
export {
  placeOf,
  QueueEstimator,
  type QueuePlace,
  type RunningJob,
  type Throughput,
  type WorkClass,
  workRate,
} from './queue-estimate.js';
