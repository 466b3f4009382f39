import { Redis } from 'ioredis';
import { LogThrottle } from '../logging/index.js';

/** Where a connection reports its errors (a pino logger fits). */
export interface ConnectionLog {
  warn(obj: object, msg: string): void;
}

/** Longest wait between two reconnection attempts: once Redis is back, everything is within this. */
export const REDIS_RETRY_MAX_MS = 1000;

/**
 * ioredis `retryStrategy` for every connection: 100 ms, 200 ms, ... capped at 1 s, forever
 * (BullMQ's default grows to 20 s, so a worker resumed up to 20 s after Redis came back).
 */
export function boundedRetry(times: number): number {
  return Math.min(times * 100, REDIS_RETRY_MAX_MS);
}

/**
 * A new connection. BullMQ needs `maxRetriesPerRequest: null` on blocking connections; the
 * same setting suits every long-lived connection here (commands wait for a reconnect instead
 * of failing after a few tries). With `log`, its errors (each reconnect attempt during an outage)
 * are logged at most once per 5 s each, never left to ioredis's "Unhandled error event".
 */
export function connectRedis(url: string, name: string, log?: ConnectionLog): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: name,
    retryStrategy: boundedRetry,
  });
  if (log) {
    const throttle = new LogThrottle();
    redis.on('error', (err: Error) => {
      const repeats = throttle.admit(err.message);
      if (repeats !== undefined)
        log.warn({ err: err.message, connection: name, repeats }, 'redis connection error');
    });
  }
  return redis;
}

/** Connection options in the form BullMQ takes, with the same bounded reconnect delay. */
export function bullConnection(url: string): {
  url: string;
  maxRetriesPerRequest: null;
  retryStrategy: (times: number) => number;
} {
  return { url, maxRetriesPerRequest: null, retryStrategy: boundedRetry };
}
