// The folder's surface without its Fastify plugin: what worker processes (and other folders' non-plugin code) import.
export { ApiMetrics, RATE_CLASSES } from './api-metrics.js';
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
