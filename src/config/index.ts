import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from 'typebox/value';
import { ConfigError } from '../errors/index.js';
import { loadPlans, type PlansFile } from '../plans/index.js';
import { type Env, EnvSchema } from './schema.js';

export interface Config {
  port: number;
  host: string;
  wsPingIntervalMs: number;
  wsMaxSocketsPerUser: number;
  wsSlowClientBytes: number;
  drainMs: number;
  dataDir: string;
  modelsDir: string;
  /** REDIS_URL as given (no password added); connections use it with `redisPassword`. */
  redisUrl: string | undefined;
  /** From REDIS_PASSWORD_FILE, read once at start-up. */
  redisPassword: string | undefined;
  redisPasswordFile: string | undefined;
  redisPrefix: string;
  logLevel: Env['LOG_LEVEL'];
  poolSize: number;
  pinThreads: boolean;
  uploadMaxBytes: number;
  maxDurationSec: number;
  probeTimeoutMs: number;
  sessionTtlSec: number;
  jobAttempts: number;
  jobLockMs: number;
  stalledIntervalMs: number;
  workerId: string;
  adminToken: string | undefined;
  maxWorkersPerHost: number;
  autoscale: { min: number; max: number } | undefined;
  autoscaleIdleMs: number;
  autoscaleCooldownMs: number;
  autoscaleIntervalMs: number;
  scaleWaitMs: number;
  adminTokenFile: string | undefined;
  authMode: 'open' | 'keys';
  /** Plans from PLANS_FILE, validated at start-up. */
  plans: PlansFile;
  plansFile: string;
  /** IPs/CIDRs whose X-Forwarded-For is believed; empty: the socket's peer is the client. */
  trustedProxies: string[];
  sweepIntervalSec: number;
  decodeCheckTimeoutMs: number;
  healthRequireWorker: boolean;
  workerRestartLimit: number;
  minFreeDiskBytes: number;
  closeTimeoutMs: number;
  decodeChecksMax: number;
  requestTimeoutMs: number;
  uploadsPerUser: number;
  uploadMinBytesPerSec: number;
  wsAnonymousUpgradesPerMin: number;
  adminFailuresPerIp: number;
  /** RESULT_LINK_SECRET; never logged. */
  resultLinkSecret: string | undefined;
  resultLinkTtlSec: number;
  webhookAllowPrivate: boolean;
  webhookRetryBaseMs: number;
  webhookRetryForMs: number;
  webhookTimeoutMs: number;
}

/** config/plans.json at the top of the installation (dist/src/config → three levels up). */
const DEFAULT_PLANS_FILE = fileURLToPath(new URL('../../../config/plans.json', import.meta.url));

/** Variables whose values never appear in a start-up error (which is logged). */
const SECRET_VARIABLES = new Set(['ADMIN_TOKEN', 'RESULT_LINK_SECRET']);

const BOOLEAN_WORDS: Record<string, boolean> = {
  '1': true,
  true: true,
  yes: true,
  '0': false,
  false: false,
  no: false,
};

/** Environment strings → typed values, only for keys the schema knows. */
function coerce(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(EnvSchema.properties)) {
    const raw = env[key];
    if (raw === undefined || raw === '') continue;
    const type = (schema as { type?: string }).type;
    if (type === 'integer' || type === 'number')
      out[key] = /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    else if (type === 'boolean') out[key] = BOOLEAN_WORDS[raw.trim().toLowerCase()] ?? raw;
    else out[key] = raw;
  }
  return out;
}

function parseAutoscale(value: string | undefined): { min: number; max: number } | undefined {
  if (!value) return undefined;
  const [min, max] = value.split(',').map((v) => Number(v.trim()));
  if (min < 1 || max < min)
    throw new ConfigError(`invalid configuration: AUTOSCALE=${JSON.stringify(value)}: needs 1 <= min <= max`);
  return { min, max };
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
  const data = Value.Default(EnvSchema, coerce(env));
  const errors = [...Value.Errors(EnvSchema, data)];
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.instancePath.replace(/^\//, '') || 'environment';
      const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(env[name] ?? '');
      return `${name}=${shown}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const e = data as Env;
  const plansFile = e.PLANS_FILE ? path.resolve(e.PLANS_FILE) : DEFAULT_PLANS_FILE;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.DATA_DIR),
    modelsDir: path.resolve(e.MODELS_DIR),
    redisUrl: e.REDIS_URL,
    redisPassword: readPasswordFile(e.REDIS_PASSWORD_FILE),
    redisPasswordFile: e.REDIS_PASSWORD_FILE ? path.resolve(e.REDIS_PASSWORD_FILE) : undefined,
    redisPrefix: e.REDIS_PREFIX,
    logLevel: e.LOG_LEVEL,
    poolSize: e.POOL_SIZE,
    pinThreads: e.PIN_THREADS,
    uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    maxDurationSec: e.MAX_DURATION_SEC,
    probeTimeoutMs: e.PROBE_TIMEOUT_MS,
    sessionTtlSec: e.SESSION_TTL_SEC,
    jobAttempts: e.JOB_ATTEMPTS,
    jobLockMs: e.JOB_LOCK_MS,
    stalledIntervalMs: e.STALLED_INTERVAL_MS,
    workerId: e.WORKER_ID ?? `${os.hostname()}-${process.pid}`,
    adminToken: e.ADMIN_TOKEN,
    maxWorkersPerHost: e.MAX_WORKERS_PER_HOST || 4 * os.availableParallelism(),
    autoscale: parseAutoscale(e.AUTOSCALE),
    autoscaleIdleMs: e.AUTOSCALE_IDLE_MS,
    autoscaleCooldownMs: e.AUTOSCALE_COOLDOWN_MS,
    autoscaleIntervalMs: e.AUTOSCALE_INTERVAL_MS,
    scaleWaitMs: e.SCALE_WAIT_MS,
    adminTokenFile: e.ADMIN_TOKEN_FILE ? path.resolve(e.ADMIN_TOKEN_FILE) : undefined,
    wsPingIntervalMs: e.WS_PING_INTERVAL_MS,
    wsMaxSocketsPerUser: e.WS_MAX_SOCKETS_PER_USER,
    wsSlowClientBytes: e.WS_SLOW_CLIENT_BYTES,
    drainMs: e.DRAIN_MS,
    authMode: e.AUTH_MODE,
    plans: loadPlans(plansFile),
    plansFile,
    trustedProxies: (e.TRUSTED_PROXIES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    sweepIntervalSec: e.SWEEP_INTERVAL_SEC,
    decodeCheckTimeoutMs: e.DECODE_CHECK_TIMEOUT_MS,
    healthRequireWorker: e.HEALTH_REQUIRE_WORKER,
    workerRestartLimit: e.WORKER_RESTART_LIMIT,
    minFreeDiskBytes: e.MIN_FREE_DISK_BYTES,
    closeTimeoutMs: e.CLOSE_TIMEOUT_MS,
    decodeChecksMax: e.DECODE_CHECKS_MAX || os.availableParallelism(),
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    uploadsPerUser: e.UPLOADS_PER_USER,
    uploadMinBytesPerSec: e.UPLOAD_MIN_BYTES_PER_SEC,
    wsAnonymousUpgradesPerMin: e.WS_ANONYMOUS_UPGRADES_PER_MIN,
    adminFailuresPerIp: e.ADMIN_FAILURES_PER_IP,
    resultLinkSecret: e.RESULT_LINK_SECRET,
    resultLinkTtlSec: e.RESULT_LINK_TTL_SEC,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    webhookRetryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
    webhookRetryForMs: e.WEBHOOK_RETRY_FOR_MS,
    webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
  };
}
export { configPlugin } from './plugin.js';
