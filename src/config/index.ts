import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from 'typebox/value';
import { ConfigError } from '../errors/index.js';
import { loadPlans, type PlansFile } from '../plans/index.js';
import { clusterUrl } from '../redis/cluster.js';
import { sentinelUrl } from '../redis/connection.js';
import { checkCaFile, withTlsCa } from '../redis/tls.js';
import { issueLines } from '../validation/index.js';
import { type Env, EnvSchema } from './schema.js';

/** `WS_PING_INTERVAL_MS` → `wsPingIntervalMs`. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;

/** The schema's variable names (a plain union, so the mapping below keeps no `?`: unset is `undefined`). */
type EnvName = Extract<keyof Env, string>;

/** Every variable of the schema under its camel-case name, typed as the schema says (unset: undefined). */
type FromEnv = { [K in EnvName as CamelCase<K>]: Env[K] };

/** Settings whose value is derived from their variable (or from other state) rather than copied. */
interface Derived {
  /**
   * REDIS_URL as given (no password added), `redis-sentinel://<master>/0?sentinels=…` from
   * REDIS_SENTINELS, or `redis-cluster://cluster/?nodes=…` from REDIS_CLUSTER_NODES; connections
   * use it with `redisPassword`.
   */
  redisUrl: string | undefined;
  /** From REDIS_PASSWORD_FILE, read once at start-up. */
  redisPassword: string | undefined;
  /** Defaults to host-pid. */
  workerId: string;
  autoscale: { min: number; max: number } | undefined;
  /** Plans from PLANS_FILE, validated at start-up. */
  plans: PlansFile;
  plansFile: string;
  /** IPs/CIDRs whose X-Forwarded-For is believed; empty: the socket's peer is the client. */
  trustedProxies: string[];
  /** CORS_ORIGINS as origins (`https://app.example.com`, lower case); empty: same origin only. */
  corsOrigins: string[];
}

/** The validated settings: the schema's variables under camel-case names, with the derived ones. */
export type Config = Omit<FromEnv, keyof Derived> & Derived;

/** config/plans.json at the top of the installation (dist/src/config → three levels up). */
const DEFAULT_PLANS_FILE = fileURLToPath(new URL('../../../config/plans.json', import.meta.url));

/** Variables whose values never appear in a start-up error (which is logged). */
const SECRET_VARIABLES = new Set(['ADMIN_TOKEN', 'RESULT_LINK_SECRET']);

const BOOLEAN_WORDS: Record<string, string> = { yes: 'true', no: 'false' };

/**
 * The schema's variables that are set: a blank value counts as unset (its default applies), and
 * yes/no are read as true/false. Converting strings to the schema's types is the library's job.
 */
function presentVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const raw = env[key]?.trim();
    if (raw) out[key] = BOOLEAN_WORDS[raw.toLowerCase()] ?? raw;
  }
  return out;
}

function camelCase(name: string): string {
  return name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function parseAutoscale(value: string | undefined): { min: number; max: number } | undefined {
  if (!value) return undefined;
  const [min, max] = value.split(',').map((v) => Number(v.trim()));
  if (min < 1 || max < min)
    throw new ConfigError(`invalid configuration: AUTOSCALE=${JSON.stringify(value)}: needs 1 <= min <= max`);
  return { min, max };
}

/**
 * REDIS_CLUSTER_NODES as one `redis-cluster://` address (TLS to every node when
 * REDIS_TLS_CA_FILE is set); its keys must share one slot, so the prefix must be a hash tag.
 */
function clusterAddress(e: Env & { REDIS_CLUSTER_NODES: string }): string {
  const others = (['REDIS_URL', 'REDIS_SENTINELS'] as const).filter((name) => e[name]);
  if (others.length > 0)
    throw new ConfigError(
      `invalid configuration: REDIS_CLUSTER_NODES and ${others.join(' and ')} are both set; set one`,
    );
  if (!/^\{.+\}$/.test(e.REDIS_PREFIX))
    throw new ConfigError(
      `invalid configuration: REDIS_PREFIX=${JSON.stringify(e.REDIS_PREFIX)}: on a Redis Cluster (REDIS_CLUSTER_NODES) ` +
        'the prefix must be a hash tag such as {vcfarm}, so that every key vcfarm and BullMQ use together is in one slot',
    );
  if (e.REDIS_TLS_CA_FILE) checkCaFile(e.REDIS_TLS_CA_FILE);
  return withTlsCa(
    clusterUrl(e.REDIS_CLUSTER_NODES),
    e.REDIS_TLS_CA_FILE && path.resolve(e.REDIS_TLS_CA_FILE),
  );
}

/**
 * REDIS_URL (with REDIS_TLS_CA_FILE in it, see withTlsCa), the sentinels as one
 * `redis-sentinel://` address, or the cluster's nodes as one `redis-cluster://` address; more than
 * one set is a mistake.
 */
function redisAddress(e: Env): string | undefined {
  if (e.REDIS_SENTINEL_TLS && !e.REDIS_SENTINELS)
    throw new ConfigError(
      'invalid configuration: REDIS_SENTINEL_TLS is for REDIS_SENTINELS, which is not set',
    );
  if (e.REDIS_CLUSTER_NODES) return clusterAddress({ ...e, REDIS_CLUSTER_NODES: e.REDIS_CLUSTER_NODES });
  if (e.REDIS_TLS_CA_FILE) {
    if (!e.REDIS_URL?.startsWith('rediss://') && !e.REDIS_SENTINEL_TLS)
      throw new ConfigError(
        'invalid configuration: REDIS_TLS_CA_FILE is for a TLS Redis: REDIS_URL must be rediss://..., or REDIS_SENTINELS with REDIS_SENTINEL_TLS=yes',
      );
    checkCaFile(e.REDIS_TLS_CA_FILE);
  }
  const caFile = e.REDIS_TLS_CA_FILE && path.resolve(e.REDIS_TLS_CA_FILE);
  if (!e.REDIS_SENTINELS) return e.REDIS_URL && withTlsCa(e.REDIS_URL, caFile);
  if (e.REDIS_URL)
    throw new ConfigError('invalid configuration: REDIS_SENTINELS and REDIS_URL are both set; set one');
  return withTlsCa(sentinelUrl(e.REDIS_SENTINELS, e.REDIS_MASTER_NAME, 0, e.REDIS_SENTINEL_TLS), caFile);
}

function readPasswordFile(file: string | undefined): string | undefined {
  if (!file) return undefined;
  let line: string;
  try {
    line = readFileSync(file, 'utf8').split('\n')[0].trim();
  } catch (err) {
    throw new ConfigError(
      `invalid configuration: REDIS_PASSWORD_FILE=${JSON.stringify(file)}: cannot be read (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  if (!line)
    throw new ConfigError(`invalid configuration: REDIS_PASSWORD_FILE=${JSON.stringify(file)}: is empty`);
  return line;
}

/**
 * Parses and validates the environment once. A bad value throws a ConfigError whose message
 * names the variable, so start-up stops with something an operator can act on.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const data = Value.Convert(EnvSchema, Value.Default(EnvSchema, presentVariables(env)));
  const errors = [...Value.Errors(EnvSchema, data)];
  if (errors.length > 0) {
    const lines = issueLines(errors, (path) => {
      const name = path.replace(/^\//, '') || 'environment';
      const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(env[name] ?? '');
      return `${name}=${shown}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const e = data as Env;
  const fromEnv = Object.fromEntries(
    Object.keys(EnvSchema.properties).map((k) => [camelCase(k), e[k as keyof Env]]),
  ) as FromEnv;
  const plansFile = e.PLANS_FILE ? path.resolve(e.PLANS_FILE) : DEFAULT_PLANS_FILE;
  const resolved = (file: string | undefined) => (file ? path.resolve(file) : undefined);
  return {
    ...fromEnv,
    dataDir: path.resolve(e.DATA_DIR),
    modelsDir: path.resolve(e.MODELS_DIR),
    redisUrl: redisAddress(e),
    redisPassword: readPasswordFile(e.REDIS_PASSWORD_FILE),
    redisPasswordFile: resolved(e.REDIS_PASSWORD_FILE),
    adminTokenFile: resolved(e.ADMIN_TOKEN_FILE),
    workerId: e.WORKER_ID ?? `${os.hostname()}-${process.pid}`,
    maxWorkersPerHost: e.MAX_WORKERS_PER_HOST || 4 * os.availableParallelism(),
    autoscale: parseAutoscale(e.AUTOSCALE),
    plans: loadPlans(plansFile),
    plansFile,
    trustedProxies: (e.TRUSTED_PROXIES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    decodeChecksMax: e.DECODE_CHECKS_MAX || os.availableParallelism(),
    corsOrigins: (e.CORS_ORIGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => new URL(s).origin),
  };
}
