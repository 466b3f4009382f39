import { readFileSync } from 'node:fs';
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { ConfigError } from '../errors/index.js';
import { issueLines, patterned } from '../validation/index.js';
import { apiNofileFor, wsMaxSocketsFor } from './api-sizing.js';
import { haproxySizing, NR_OPEN } from './haproxy-sizing.js';

/** systemd's size syntax (MemoryMax=, compose mem_limit): a number with K, M, G or T. */
const Size = patterned('^[1-9][0-9]*[KMGT]$', 'a size: a whole number then K, M, G or T (512M, 2G)');

const TierName = patterned(
  '^[a-z][a-z0-9-]*$',
  "a tier name: lower-case letters, digits or '-', starting with a letter",
);

const TierSchema = Type.Object(
  {
    /** Cores the machine has; workers are pinned to 0..cores-1. */
    cores: Type.Integer({ minimum: 1, maximum: 1024 }),
    /** Memory of the machine, for the plan's record and the limits' sanity check. */
    memoryGib: Type.Integer({ minimum: 1 }),
    /** API instances behind HAProxy, on consecutive ports. */
    apiInstances: Type.Integer({ minimum: 1, maximum: 64 }),
    /** Concurrent users the connection limits are sized for. */
    maxUsers: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /** Worker processes; each gets threadsPerWorker cores of its own and one pool thread per core. */
    workerProcesses: Type.Integer({ minimum: 1, maximum: 256 }),
    threadsPerWorker: Type.Integer({ minimum: 1, maximum: 256 }),
    /** Memory limit of one API instance (systemd MemoryMax=, compose mem_limit). */
    apiMemoryMax: Size,
    /** Memory limit of one worker process with all its threads and ffmpeg children. */
    workerMemoryMax: Size,
    /** Redis maxmemory (its own syntax: 256mb, 2gb); with noeviction a full Redis refuses writes. */
    redisMaxMemory: patterned(
      '^[1-9][0-9]*(mb|gb)$',
      "a size in Redis's form: a whole number then mb or gb (256mb, 2gb)",
    ),
    /** The seed guide's expected throughput for this size (a target, not a measurement). */
    seedJobsPerMin: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

export const TiersFileSchema = Type.Object(
  {
    $comment: Type.Optional(Type.String()),
    /** By name; a name out of TierName's form is refused (a record alone lets any other key through). */
    tiers: Type.Record(TierName, TierSchema, { propertyNames: TierName }),
    common: Type.Object(
      {
        /** Nice= of workers: the API and Redis win the CPU when both want it. */
        workerNice: Type.Integer({ minimum: 0, maximum: 19 }),
        workerTasksMax: Type.Integer({ minimum: 16 }),
        apiTasksMax: Type.Integer({ minimum: 16 }),
        /** HTTP requests one user has in flight at most (uploads, polls). */
        httpPerUser: Type.Integer({ minimum: 1 }),
        /** WebSockets one user holds (tabs); also the API's WS_MAX_SOCKETS_PER_USER. */
        wsPerUser: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Tier = Static<typeof TierSchema>;
export type TiersFile = Static<typeof TiersFileSchema>;

const UNIT: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const bytes = (size: string): number => Number(size.slice(0, -1)) * UNIT[size.slice(-1)];

/** A field of a JSON file as a dotted path (`tiers.small.cores`). */
const fieldName = (instancePath: string) =>
  instancePath.replace(/^\//, '').replaceAll('/', '.') || 'the document';

/** Reads and validates the tiers file; a bad field throws a ConfigError naming file and field. */
export function loadTiers(file: string): TiersFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`tiers file ${file}: ${(err as Error).message}`);
  }
  const errors = [...Value.Errors(TiersFileSchema, raw)];
  if (errors.length > 0) {
    const lines = issueLines(errors, fieldName).slice(0, 5);
    throw new ConfigError(`tiers file ${file}: ${lines.join('; ')}`);
  }
  const tiers = raw as TiersFile;
  for (const [name, t] of Object.entries(tiers.tiers)) {
    if (t.workerProcesses * t.threadsPerWorker > t.cores)
      throw new ConfigError(`tiers file ${file}: tiers.${name}: workers need more cores than the tier has`);
    const limits = t.apiInstances * bytes(t.apiMemoryMax) + t.workerProcesses * bytes(t.workerMemoryMax);
    if (limits > t.memoryGib * 2 ** 30)
      throw new ConfigError(`tiers file ${file}: tiers.${name}: memory limits add up to more than memoryGib`);
  }
  return tiers;
}

/** Everything a deploy tier renders, derived from one tier of the file. */
export interface TierPlan extends Tier {
  name: string;
  /** Core list of each worker process ("0-3"), also its systemd instance name. */
  workerCpus: string[];
  /** Every worker core as one list ("0-7"): the docker tier's single worker container. */
  workerCpuset: string;
  /** Memory of all worker processes together, in bytes (the docker tier's worker mem_limit). */
  workerMemoryTotalBytes: number;
  workerNice: number;
  workerTasksMax: number;
  apiTasksMax: number;
  wsPerUser: number;
  /** HAProxy's global maxconn: the frontend's plus the stats page's (`haproxySizing`). */
  maxconn: number;
  /** HAProxy's public frontend maxconn: every user's sockets and requests, at least 256. */
  frontendMaxconn: number;
  /** Concurrent requests HAProxy sends to one API instance; more wait in its queue. */
  serverMaxconn: number;
  /** Descriptor limit of one API instance: its share of the sockets plus its requests and files. */
  apiNofile: number;
  /** WS_MAX_SOCKETS of one API instance: what `apiNofile` leaves after requests and files (`wsMaxSocketsFor`). */
  apiWsMaxSockets: number;
  /** Descriptor limit of HAProxy: two per proxied connection plus margin (`haproxySizing`). */
  haproxyNofile: number;
}

const cpuRange = (from: number, count: number): string =>
  count === 1 ? String(from) : `${from}-${from + count - 1}`;

export function tierPlan(tiers: TiersFile, name: string): TierPlan {
  const t = tiers.tiers[name];
  if (!t) throw new ConfigError(`unknown tier "${name}"; tiers: ${Object.keys(tiers.tiers).join(', ')}`);
  const c = tiers.common;
  // The unit's LimitNOFILE= and compose's ulimits are set to what this asks for, so the only
  // ceiling is the kernel's.
  const haproxy = haproxySizing({
    connections: t.maxUsers * (c.wsPerUser + c.httpPerUser),
    httpConnections: t.maxUsers * c.httpPerUser,
    servers: t.apiInstances,
    nofileLimit: NR_OPEN,
  });
  const wsPerInstance = Math.ceil((t.maxUsers * c.wsPerUser) / t.apiInstances);
  const apiNofile = apiNofileFor({ websockets: wsPerInstance, requests: haproxy.serverMaxconn });
  return {
    ...t,
    name,
    workerCpus: Array.from({ length: t.workerProcesses }, (_, k) =>
      cpuRange(k * t.threadsPerWorker, t.threadsPerWorker),
    ),
    workerCpuset: cpuRange(0, t.workerProcesses * t.threadsPerWorker),
    workerMemoryTotalBytes: t.workerProcesses * bytes(t.workerMemoryMax),
    workerNice: c.workerNice,
    workerTasksMax: c.workerTasksMax,
    apiTasksMax: c.apiTasksMax,
    wsPerUser: c.wsPerUser,
    maxconn: haproxy.maxconn,
    frontendMaxconn: haproxy.frontendMaxconn,
    serverMaxconn: haproxy.serverMaxconn,
    apiNofile,
    apiWsMaxSockets: wsMaxSocketsFor(apiNofile, haproxy.serverMaxconn),
    haproxyNofile: haproxy.nofile,
  };
}

/** The plan as shell assignments (TIER_NAME='small'), for scripts/deploy-multiuser.sh to eval. */
export function planAsShell(plan: TierPlan): string {
  const snake = (k: string): string => k.replace(/[A-Z]/g, (m) => `_${m}`).toUpperCase();
  const quote = (v: string): string => `'${v.replaceAll("'", "'\\''")}'`;
  return Object.entries(plan)
    .map(
      ([k, v]) => `TIER_${snake(k)}=${Array.isArray(v) ? `(${v.map(quote).join(' ')})` : quote(String(v))}`,
    )
    .join('\n');
}
