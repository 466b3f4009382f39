export {
  BULL_PRIORITY,
  CONVERSION_QUEUE,
  type ConversionJobData,
  type ConversionJobView,
  type ConversionResult,
  type JobPriority,
  type JobProgress,
  type PublicJobState,
} from './conversion-job.js';
export { ConversionQueue, type ConversionQueueOptions, type ConversionRequest } from './conversion-queue.js';
export { publicState, toJobView } from './job-view.js';
export { KEEP_FINISHED_SEC, queueKeys } from './keys.js';
export { queuePlugin } from './plugin.js';
