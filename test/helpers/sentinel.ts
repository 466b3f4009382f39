import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { type StartedProcess, startProcess, waitUntil } from './processes.js';
import { redisAnswers } from './redis.js';
import { redisTlsConf, type TestPki } from './tls-certs.js';

export const MASTER_NAME = 'vcfarm';

/** A primary, a replica and three sentinels on loopback free ports, all with one password. */
export interface SentinelSet {
  dir: string;
  password: string;
  passwordFile: string;
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`: REDIS_SENTINELS. */
  sentinels: string;
  /** With `tls`: every server and sentinel speaks TLS only, certificates from this PKI. */
  tls?: TestPki;
  primary: { port: number; process: ChildProcess };
  replica: { port: number; process: ChildProcess };
  /** The port the sentinels now name as master. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSentinelSet(opts: { tls?: TestPki } = {}): Promise<SentinelSet> {
  const tls = opts.tls && { ca: opts.tls.ca };
  /** A client of this set's servers (TLS when the set is). */
  const client = (port: number, password?: string): Redis =>
    new Redis({ port, host: '127.0.0.1', password, tls, lazyConnect: true });
  const tlsLines = (port: number): string[] => (opts.tls ? redisTlsConf(opts.tls, port) : [`port ${port}`]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-sentinel-'));
  const password = 'sentinel-test-password-0123456789';
  const passwordFile = path.join(dir, 'redis-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const children: StartedProcess[] = [];
  const server = async (name: string, extra: string[]) => {
    const port = await freePort();
    const conf = path.join(dir, `${name}.conf`);
    // The password is in a config file, not on a command line; so are the TLS settings.
    const lines = [`requirepass ${password}`, `masterauth ${password}`, ...tlsLines(port), ''];
    await writeFile(conf, lines.join('\n'), { mode: 0o600 });
    await rm(path.join(dir, name), { recursive: true, force: true });
    const data = await mkdtemp(path.join(dir, `${name}-`));
    // biome-ignore format: flag/value pairs
    const child = await startProcess('redis-server', [conf,
      '--bind', '127.0.0.1', '--dir', data,
      '--appendonly', 'yes', '--save', '', '--repl-diskless-sync-delay', '0', ...extra],
      { name: `redis ${name}`, graceMs: 0, readyTimeoutMs: 10_000, ready: () => redisAnswers(port, password, tls) });
    children.push(child);
    return { port, process: child.process };
  };
  const primary = await server('primary', []);
  const replica = await server('replica', ['--replicaof', '127.0.0.1', String(primary.port)]);
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = path.join(dir, `sentinel-${i}.conf`);
    await writeFile(
      conf,
      [
        ...tlsLines(port),
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
        `sentinel auth-pass ${MASTER_NAME} ${password}`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const sentinel = await startProcess('redis-sentinel', [conf], {
      name: `sentinel ${i}`,
      graceMs: 0,
      readyTimeoutMs: 10_000,
      ready: () => redisAnswers(port, undefined, tls),
    });
    children.push(sentinel);
    sentinelPorts.push(port);
  }
  const masterPort = async () => {
    const s = client(sentinelPorts[0]);
    s.on('error', () => {}); // the command rejects with it
    try {
      const [, port] = (await s.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as string[];
      return Number(port);
    } finally {
      s.disconnect();
    }
  };
  // The replica holds the data only once its first sync is done. Replication is asynchronous and
  // a replica that is still syncing may be promoted: killed before this, the primary took every
  // key with it (the cause of this test's failures on an idle machine, where the kill came within
  // Redis's default 5 s diskless-sync delay).
  await waitUntil(
    async () => {
      const r = client(replica.port, password);
      r.on('error', () => {});
      try {
        await r.connect();
        return /master_link_status:up/.test(await r.info('replication'));
      } catch {
        return false;
      } finally {
        r.disconnect();
      }
    },
    20_000,
    'the replica to finish its first sync',
  );
  // Ready once every sentinel knows the replica (a failover needs one to promote).
  await waitUntil(
    async () => {
      const counts = await Promise.all(
        sentinelPorts.map(async (port) => {
          const s = client(port);
          s.on('error', () => {}); // the command rejects with it
          try {
            return ((await s.call('SENTINEL', 'replicas', MASTER_NAME)) as unknown[]).length;
          } finally {
            s.disconnect();
          }
        }),
      );
      return counts.every((n) => n >= 1);
    },
    20_000,
    'the sentinels to discover the replica',
  );
  return {
    dir,
    password,
    passwordFile,
    tls: opts.tls,
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    primary,
    replica,
    masterPort,
    async stop() {
      await Promise.all(children.map((c) => c.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
