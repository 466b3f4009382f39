import pino, { type Logger } from 'pino';
import { DegradingDestination } from './destination.js';

export { DegradingDestination } from './destination.js';
export { redactUrl, requestSerializer } from './redact.js';
export { LogThrottle } from './throttle.js';

/**
 * pino logs to stdout; every line carries the process role. JSON (through a destination that
 * degrades instead of crashing) unless `format` is `pretty`, or unset while stdout is a terminal:
 * then `pino-pretty` as a transport (its own thread), for a person reading `npm start`.
 */
export function createLogger(level: string, role: string, format?: 'json' | 'pretty'): Logger {
  const options = { level, base: { pid: process.pid, role }, timestamp: pino.stdTimeFunctions.isoTime };
  const pretty = format === 'pretty' || (format === undefined && process.stdout.isTTY === true);
  if (pretty)
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  return pino(options, new DegradingDestination(1));
}
