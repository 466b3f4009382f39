import { Redis } from 'ioredis';

/**
 * A new connection. BullMQ needs `maxRetriesPerRequest: null` on blocking connections; the
 * same setting suits every long-lived connection here (commands wait for a reconnect instead
 * of failing after a few tries).
 */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name });
}

/** Connection options in the form BullMQ takes. */
export function bullConnection(url: string): { url: string; maxRetriesPerRequest: null } {
  return { url, maxRetriesPerRequest: null };
}
