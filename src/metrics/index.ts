export { ApiMetrics, RATE_CLASSES } from './api-metrics.js';
export { metricsPlugin } from './plugin.js';
export { QueueDepthReader, registerQueueGauges } from './queue-depth.js';
export { metricsTable, vcfarmMetricsTable } from './table.js';
export {
  type JobKind,
  type JobOutcomeLabel,
  type JobTotals,
  jobTotals,
  type PoolView,
  PRIORITY_CLASSES,
  WorkerMetrics,
} from './worker-metrics.js';
