import { type Static, Type } from 'typebox';

/**
 * Every setting vcfarm reads from the environment. Types and defaults live here only;
 * `loadConfig` validates process.env against this schema once at start-up.
 */
export const EnvSchema = Type.Object({
  /** TCP port of the API server. Default 8080. */
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  /** Address the API server binds. Default 0.0.0.0. */
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  /** Root of all state on disk: workspaces, embedded Redis data, run files. Default ./data. */
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  /** External Redis (redis://host:port/db). Unset: `vcfarm all` starts its own redis-server. */
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /** Key prefix for everything vcfarm stores in Redis. */
  REDIS_PREFIX: Type.String({ pattern: '^[a-zA-Z0-9_-]+$', default: 'vcfarm' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  /** Pool threads per worker process; 0 means one per core in the process's affinity mask. */
  POOL_SIZE: Type.Integer({ minimum: 0, maximum: 1024, default: 0 }),
  /** Pin each pool thread to one core (Linux, needs taskset). */
  PIN_THREADS: Type.Boolean({ default: true }),
  /** Largest accepted upload in bytes. Default 100 MiB. */
  UPLOAD_MAX_BYTES: Type.Integer({ minimum: 1024, default: 100 * 1024 * 1024 }),
  /** Longest accepted audio per file, in seconds; decoding stops there too. */
  MAX_DURATION_SEC: Type.Number({ exclusiveMinimum: 0, default: 3600 }),
  /** ffprobe is killed after this many milliseconds. */
  PROBE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  /** Lifetime of an anonymous session token, in seconds. Default 7 days. */
  SESSION_TTL_SEC: Type.Integer({ minimum: 60, default: 7 * 24 * 3600 }),
  /** Attempts per job before it fails for good (crashes and transient errors only). */
  JOB_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 20, default: 3 }),
  /** BullMQ job lock; a job whose worker died is retried after about this long. */
  JOB_LOCK_MS: Type.Integer({ minimum: 1000, default: 30_000 }),
  /** How often workers look for jobs whose worker died. */
  STALLED_INTERVAL_MS: Type.Integer({ minimum: 500, default: 30_000 }),
  /** Stable id of a worker process (defaults to host-pid). */
  WORKER_ID: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$' })),
  /** Bearer token for admin endpoints. Unset: read from ADMIN_TOKEN_FILE; both unset: admin endpoints refuse everyone. */
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  /** File holding the admin token (first line). `vcfarm all` creates DATA_DIR/admin-token when neither is set. */
  ADMIN_TOKEN_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Directory holding model folders (models/<name>/model.json). */
  MODELS_DIR: Type.String({ minLength: 1, default: './models' }),
});

export type Env = Static<typeof EnvSchema>;
