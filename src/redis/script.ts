import type { RedisClient } from './connection.js';

type ScriptArg = string | number;
type ScriptCommand = (numberOfKeys: number, ...keysAndArgs: ScriptArg[]) => Promise<unknown>;

/**
 * A Lua script sent by its SHA1 (EVALSHA), in full (EVAL) only where this Redis has not cached it yet:
 * new, restarted or failed over. ioredis's `defineCommand` does that bookkeeping; the script is defined on
 * a client the first time it runs there. The number of keys is given per call (ADMIT takes one or two).
 *
 *   const UNLOCK = redisScript('vcfarmUnlock', `...`);
 *   await UNLOCK(redis, [lockKey], [token]);
 */
export function redisScript(
  name: string,
  lua: string,
): (redis: RedisClient, keys: string[], args: ScriptArg[]) => Promise<unknown> {
  return (redis, keys, args) => {
    if (!(name in redis)) redis.defineCommand(name, { lua });
    const command = (redis as unknown as Record<string, ScriptCommand>)[name] as ScriptCommand;
    return command.call(redis, keys.length, ...keys, ...args);
  };
}
