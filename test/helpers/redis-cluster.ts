import { type ChildProcess, execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { consecutiveFreePorts } from './ports.js';
import { spawnProcess, waitUntil } from './processes.js';
import { redisAnswers } from './redis.js';

const run = promisify(execFile);

/** The hash tag every vcfarm key on the test cluster shares: REDIS_PREFIX. */
export const CLUSTER_PREFIX = '{vcfarm}';

export interface ClusterNode {
  port: number;
  process: ChildProcess;
}

/** Three primaries (each with a replica when asked) on loopback, all with one password. */
export interface RedisClusterSet {
  password: string;
  passwordFile: string;
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` (the primaries): REDIS_CLUSTER_NODES. */
  nodes: string;
  servers: ClusterNode[];
  /** The port of the primary that now serves `key`'s slot, as the node at `askPort` sees it. */
  primaryFor(key: string, askPort?: number): Promise<number>;
  /** The replica whose primary is at `port`, if any. */
  replicaOf(port: number): Promise<number | undefined>;
  /** A plain connection to one node (the caller disconnects it). */
  connect(port: number): Redis;
  /** With `tls`: the CA that signed the nodes' certificate, for REDIS_TLS_CA_FILE. */
  caFile?: string;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Replicas per primary: 0 (three nodes) or 1 (six). Default 0. */
  replicas?: 0 | 1;
  /** cluster-node-timeout: how long a primary may be silent before its replica takes over. */
  nodeTimeoutMs?: number;
  /** TLS only (clients, replication and the cluster bus), with a certificate for 127.0.0.1 from a CA made for it. */
  tls?: boolean;
}

const openssl = (cwd: string, ...args: string[]) => run('openssl', args, { cwd });

/** A CA (ca.pem) and a certificate for 127.0.0.1 it signed (server.pem, server.key) in `dir`. */
async function makeCertificates(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    dir,
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=ca',
  );
  await openssl(dir, 'req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=redis.test');
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  // biome-ignore format: flag/value pairs
  await openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
}

/**
 * A real Redis Cluster (`redis-server --cluster-enabled yes` × 3 or 6, joined by
 * `redis-cli --cluster create`) with a password (`requirepass`, `masterauth`: in each node's
 * config file, never on a command line; `redis-cli` gets it through REDISCLI_AUTH), for one test file.
 */
export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterSet> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-redis-cluster-'));
  const password = 'cluster-test-password-0123456789';
  const passwordFile = path.join(dir, 'redis-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const count = opts.replicas ? 6 : 3;
  // A client port and a cluster-bus port per node, all below the ephemeral range.
  const ports = await consecutiveFreePorts(2 * count);
  const servers: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all(
      servers.map(async ({ process: c }) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  const caFile = opts.tls ? path.join(dir, 'ca.pem') : undefined;
  if (opts.tls) await makeCertificates(dir);
  const tlsCa = caFile ? { ca: await readFile(caFile, 'utf8') } : undefined;
  const tls = tlsCa ? { tls: tlsCa } : {};
  const connect = (port: number) => {
    const r = new Redis({
      port,
      host: '127.0.0.1',
      password,
      lazyConnect: true,
      retryStrategy: () => null,
      ...tls,
    });
    r.on('error', () => {}); // commands reject with it
    return r;
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = ports[i];
      const nodeDir = path.join(dir, `node-${port}`);
      await mkdir(nodeDir);
      const conf = path.join(nodeDir, 'redis.conf');
      // biome-ignore format: one directive a line
      await writeFile(conf, [
        ...(opts.tls
          ? ['port 0', `tls-port ${port}`, 'tls-cluster yes', 'tls-replication yes', 'tls-auth-clients no',
            `tls-cert-file ${path.join(dir, 'server.pem')}`, `tls-key-file ${path.join(dir, 'server.key')}`,
            `tls-ca-cert-file ${caFile}`]
          : [`port ${port}`]),
        `cluster-port ${ports[count + i]}`, 'bind 127.0.0.1', `dir ${nodeDir}`,
        'cluster-enabled yes', 'cluster-config-file nodes.conf',
        `cluster-node-timeout ${opts.nodeTimeoutMs ?? 1000}`,
        'appendonly yes', 'save ""', 'repl-diskless-sync-delay 0',
        `requirepass ${password}`, `masterauth ${password}`, '',
      ].join('\n'), { mode: 0o600 });
      servers.push({
        port,
        process: spawnProcess('redis-server', [conf], { name: `cluster-node-${port}` }).process,
      });
    }
    for (const s of servers)
      await waitUntil(() => redisAnswers(s.port, password, tlsCa), 10_000, `cluster node ${s.port}`);
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map((s) => `127.0.0.1:${s.port}`),
        '--cluster-replicas',
        String(opts.replicas ?? 0),
        '--cluster-yes',
        ...(caFile ? ['--tls', '--cacert', caFile] : []),
      ],
      { env: { ...process.env, REDISCLI_AUTH: password }, timeout: 60_000 },
    );
    const info = async (port: number, section: string) => {
      const r = connect(port);
      try {
        await r.connect();
        return await r.info(section);
      } catch {
        return '';
      } finally {
        r.disconnect();
      }
    };
    const clusterState = async (port: number) => {
      const r = connect(port);
      try {
        await r.connect();
        return (await r.cluster('INFO')) as string;
      } catch {
        return '';
      } finally {
        r.disconnect();
      }
    };
    // Ready once every node sees the whole cluster as ok, and every replica finished its first sync.
    await waitUntil(
      async () => {
        for (const s of servers) {
          if (!/cluster_state:ok/.test(await clusterState(s.port))) return false;
          const replication = await info(s.port, 'replication');
          if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false;
        }
        return true;
      },
      30_000,
      'the cluster to be ok',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const primaryFor = async (key: string, askPort = servers[0].port) => {
    const r = connect(askPort);
    try {
      await r.connect();
      const slot = (await r.cluster('KEYSLOT', key)) as number;
      const ranges = await r.cluster('SLOTS');
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      const [, port] = range[2] ?? [];
      return Number(port);
    } finally {
      r.disconnect();
    }
  };
  const replicaOf = async (port: number) => {
    for (const s of servers) {
      if (s.port === port) continue;
      const r = connect(s.port);
      try {
        await r.connect();
        const replication = await r.info('replication');
        if (/role:slave/.test(replication) && new RegExp(`master_port:${port}\\b`).test(replication))
          return s.port;
      } catch {
        // a dead node: not the replica we look for
      } finally {
        r.disconnect();
      }
    }
    return undefined;
  };
  return {
    password,
    passwordFile,
    nodes: servers
      .slice(0, 3)
      .map((s) => `127.0.0.1:${s.port}`)
      .join(','),
    servers,
    primaryFor,
    replicaOf,
    connect,
    caFile,
    stop,
  };
}
