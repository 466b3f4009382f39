// The folder's surface without its Fastify plugin: what worker processes (and other folders' non-plugin code) import.
export { type AutoscaleChange, type AutoscaleInput, decideAutoscale } from './autoscale-policy.js';
export { type ScalingKeys, scalingKeys } from './keys.js';
export type {
  AutoscaleDecision,
  AutoscaleOff,
  AutoscaleOn,
  AutoscaleSetting,
  DesiredSize,
  ScaleAck,
  ScaleCommand,
  ThreadStats,
  WorkerStats,
} from './messages.js';
export { ScaleCoordinator, type ScaleOutcome } from './scale-coordinator.js';
export { type QueueStatus, queueStatus, type SystemStats, systemStats } from './system-stats.js';
