export { eventStreamKey, JobEventLog } from './event-log.js';
export { isFinalEvent, type JobEvent, type ServerMessage } from './events.js';
export { progressPlugin } from './plugin.js';
export { type EventListener, ProgressHub } from './progress-hub.js';
