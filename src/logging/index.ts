import pino, { type Logger } from 'pino';
import { DegradingDestination } from './destination.js';

export { DegradingDestination } from './destination.js';
export { redactUrl, requestSerializer } from './redact.js';
export { LogThrottle } from './throttle.js';

/** pino JSON logs to stdout, through a destination that degrades instead of crashing; every line carries the process role. */
export function createLogger(level: string, role: string): Logger {
  return pino(
    { level, base: { pid: process.pid, role }, timestamp: pino.stdTimeFunctions.isoTime },
    new DegradingDestination(1),
  );
}
