import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { startProcess } from './processes.js';

export interface TestRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free port with its own directory, for one test file. */
export async function startRedis(): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-redis-'));
  const port = await freePort();
  const server = await startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { graceMs: 0, readyTimeoutMs: 10_000, ready: () => portAccepts(port) },
  ).catch(async (err) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: server.process,
    async stop() {
      await server.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** True when something accepts a TCP connection on 127.0.0.1:port. */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** One raw command to 127.0.0.1:port; resolves with the first reply line (no client library retries). */
export function rawRedis(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    sock.once('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (b: Buffer) => {
      reply += b.toString();
      if (reply.includes('\r\n')) {
        sock.destroy();
        resolve(reply.split('\r\n')[0]);
      }
    });
    sock.once('error', reject);
  });
}

/**
 * One PING on a fresh connection that does not retry (over TLS with `tls`): true when the server at
 * `host:port` answers.
 */
export async function redisAnswers(
  port: number,
  password?: string,
  tls?: { ca: string },
  host = '127.0.0.1',
): Promise<boolean> {
  const r = new Redis({
    port,
    host,
    password,
    tls,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  r.on('error', () => {}); // a refused connect is the answer (connect() rejects)
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** A user's rate-limit counter of one class (`uploads`, `conversions`, `api`, ...): its count, 0 when it does not exist. */
export async function rateCount(redis: Redis, userId: string, cls: string): Promise<number> {
  const keys = await redis.keys(`*ratelimit:*${cls}:user:${userId}`);
  if (keys.length > 1) throw new Error(`${cls}: more than one counter: ${keys}`);
  return keys.length ? Number(await redis.get(keys[0])) : 0;
}
