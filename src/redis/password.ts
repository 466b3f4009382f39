import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where the embedded Redis keeps its password: DATA_DIR/redis-password, mode 0600. */
export function redisPasswordFile(dataDir: string): string {
  return path.join(dataDir, 'redis-password');
}

/**
 * The embedded Redis's password: read from its file, or generated (32 random bytes) into a new
 * file of mode 0600 on first start. The same password survives restarts, so the AOF data and any
 * operator's `REDISCLI_AUTH=$(cat DATA_DIR/redis-password) redis-cli` keep working.
 */
export async function ensureRedisPassword(dataDir: string): Promise<{ file: string; password: string }> {
  const file = redisPasswordFile(dataDir);
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch((err) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  });
  return { file, password: (await readFile(file, 'utf8')).split('\n')[0].trim() };
}

/**
 * `redis://host:port/db` with the password added (or left as is without one). A password written
 * into the URL itself wins: the operator said so explicitly.
 */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const u = new URL(url);
  if (u.password) return url;
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** The URL without its credentials: for logs, and for a child that reads the password from its file. */
export function withoutPassword(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}
