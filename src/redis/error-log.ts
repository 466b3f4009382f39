import { LogThrottle } from '../logging/index.js';

/** Where a connection reports its errors (a pino logger fits). */
export interface ConnectionLog {
  warn(obj: object, msg: string): void;
}

/**
 * Error listeners for connections that reconnect by themselves (ioredis clients, BullMQ queues):
 * `listener(name)` logs a connection's errors at warn, at most one line per connection and message
 * every 5 s, with the count held back. Every such connection needs a listener: without one ioredis
 * prints "[ioredis] Unhandled error event" (with Sentinel, "All sentinels are unreachable" on each
 * cycle through them) and BullMQ prints the error to stderr.
 */
export function connectionErrorLog(log: ConnectionLog): (connection: string) => (err: Error) => void {
  const throttle = new LogThrottle();
  return (connection) => (err) => {
    const repeats = throttle.admit(`${connection}: ${err.message}`);
    if (repeats !== undefined) log.warn({ err: err.message, connection, repeats }, 'redis connection error');
  };
}
