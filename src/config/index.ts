import os from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { ConfigError } from '../errors/index.js';
import { type Env, EnvSchema } from './schema.js';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  modelsDir: string;
  redisUrl: string | undefined;
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
  adminTokenFile: string | undefined;
}

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
      return `${name}=${JSON.stringify(env[name] ?? '')}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const e = data as Env;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.DATA_DIR),
    modelsDir: path.resolve(e.MODELS_DIR),
    redisUrl: e.REDIS_URL,
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
    adminTokenFile: e.ADMIN_TOKEN_FILE ? path.resolve(e.ADMIN_TOKEN_FILE) : undefined,
  };
}
export { configPlugin } from './plugin.js';
