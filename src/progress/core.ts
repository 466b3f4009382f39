// The folder's surface without its Fastify plugin: what worker processes (and other folders' non-plugin code) import.
export {
  eventStreamKey,
  JobEventLog,
  MAX_EVENTS,
  type PublishOptions,
  webhookFeedKeys,
} from './event-log.js';
export {
  applyServerMessage,
  type ClientMessage,
  compareEventIds,
  EVENT_ID_PATTERN,
  type FinalEvent,
  isFinalEvent,
  type JobEvent,
  type JobState,
  type QueueMessage,
  type ServerMessage,
} from './events.js';
export { type EventListener, ProgressHub, type Replay } from './progress-hub.js';
