import { withDeadline } from '../lifecycle/deadline.js';
import type { RedisClient } from './connection.js';

/** Time a connection gets to QUIT cleanly before it is cut. */
export const REDIS_QUIT_DEADLINE_MS = 2000;

/** QUIT, or cut the connection after the deadline (QUIT waits forever while Redis is down). */
export async function closeRedis(redis: RedisClient, ms = REDIS_QUIT_DEADLINE_MS): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  await withDeadline(redis.quit(), ms, () => redis.disconnect());
}
