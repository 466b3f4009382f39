import { type Static, Type } from 'typebox';
import { patterned, WorkerId } from '../validation/index.js';

/** `host:port,host:port,...` (Sentinels, cluster seeds). */
const HostPorts = patterned(
  '^[^,:\\s]+:[0-9]+(,[^,:\\s]+:[0-9]+)*$',
  'host:port pairs separated by commas (redis-a:26379,redis-b:26379)',
);

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
  REDIS_URL: Type.Optional(patterned('^rediss?://', 'a URL starting with redis:// or rediss://')),
  /**
   * File whose first line is the Redis password (AUTH), used by every connection. `vcfarm all`
   * generates DATA_DIR/redis-password (mode 0600) for its embedded Redis and hands this variable
   * to its worker (the deploy tiers point it at a systemd credential or a compose secret); the password itself never appears on a command line or in a log.
   */
  REDIS_PASSWORD_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * PEM file of the CA that signed a TLS Redis's certificate (REDIS_URL rediss://...); every
   * connection trusts this CA only. Unset: Node's own CAs (NODE_EXTRA_CA_CERTS adds to them).
   */
  REDIS_TLS_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Redis Sentinel instead of REDIS_URL: `host:port,host:port,...` of the sentinels; every
   * connection asks them for the current master of REDIS_MASTER_NAME (password: REDIS_PASSWORD_FILE).
   */
  REDIS_SENTINELS: Type.Optional(HostPorts),
  /**
   * Redis Cluster instead of REDIS_URL: `host:port,host:port,...` of some of its nodes (seeds; the
   * client learns the others from them). Needs REDIS_PREFIX to be a hash tag such as `{vcfarm}`.
   */
  REDIS_CLUSTER_NODES: Type.Optional(HostPorts),
  /**
   * The sentinels and the Redis servers they name speak TLS only (tls-port, tls-replication):
   * every connection to either is TLS, trusting REDIS_TLS_CA_FILE (or Node's CAs).
   */
  REDIS_SENTINEL_TLS: Type.Boolean({ default: false }),
  /** The sentinels' name for the master (with REDIS_SENTINELS). */
  REDIS_MASTER_NAME: patterned('^[a-zA-Z0-9._-]+$', "a name of letters, digits, '.', '-' or '_'", {
    default: 'vcfarm',
  }),
  /**
   * Key prefix for everything vcfarm stores in Redis: a name, or a hash tag (`{vcfarm}`), which
   * puts every key in one cluster slot (required with REDIS_CLUSTER_NODES).
   */
  REDIS_PREFIX: patterned(
    '^([a-zA-Z0-9_-]+|\\{[a-zA-Z0-9_-]+\\})$',
    "a name of letters, digits, '-' or '_', or such a name in braces (a hash tag: {vcfarm})",
    { default: 'vcfarm' },
  ),
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
  WORKER_ID: Type.Optional(WorkerId),
  /** Bearer token for admin endpoints, 32+ characters. Unset: read from ADMIN_TOKEN_FILE; both unset: admin endpoints refuse everyone. */
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 32 })),
  /** File holding the admin token (first line). `vcfarm all` creates DATA_DIR/admin-token when neither is set. */
  ADMIN_TOKEN_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Largest pool size a scale request may ask for; 0 means 4 × the cores of this host. */
  MAX_WORKERS_PER_HOST: Type.Integer({ minimum: 0, maximum: 4096, default: 0 }),
  /** Autoscaling bounds "min,max" (like Celery's --autoscale, but min first). Unset: fixed size. */
  AUTOSCALE: Type.Optional(
    patterned('^\\s*\\d+\\s*,\\s*\\d+\\s*$', 'two whole numbers, min and max, separated by a comma (1,4)'),
  ),
  /** Idle time after which the autoscaler shrinks the pool. */
  AUTOSCALE_IDLE_MS: Type.Integer({ minimum: 100, default: 60_000 }),
  /** Least time between two autoscaling changes. */
  AUTOSCALE_COOLDOWN_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  /** How often the autoscaler looks at the queue. */
  AUTOSCALE_INTERVAL_MS: Type.Integer({ minimum: 50, default: 1000 }),
  /** How long POST /api/system/scale waits for workers to apply a size before answering 202. */
  SCALE_WAIT_MS: Type.Integer({ minimum: 0, default: 5000 }),
  /** WebSocket ping interval in ms; a socket that misses one pong is terminated at the next. Default 30 s. */
  WS_PING_INTERVAL_MS: Type.Integer({ minimum: 100, default: 30_000 }),
  /** Open WebSockets per user on one API instance; more are refused (HTTP 429 or close 4429). Default 8. */
  WS_MAX_SOCKETS_PER_USER: Type.Integer({ minimum: 1, maximum: 10_000, default: 8 }),
  /**
   * WebSockets one API instance holds at most, all users together; past it the upgrade is refused
   * with 503 + Retry-After (HAProxy tries another instance), so an instance sheds load before it
   * runs out of descriptors. Keep it below the process's descriptor limit minus its HTTP requests
   * and files. Default 10000.
   */
  WS_MAX_SOCKETS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
  /** Unsent bytes after which a socket's progress is coalesced (latest per job wins). Default 1 MiB. */
  WS_SLOW_CLIENT_BYTES: Type.Integer({ minimum: 1, default: 1024 * 1024 }),
  /** On SIGTERM: ms that /health reports 503 while still serving, before closing. Default 3000. */
  DRAIN_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 3000 }),
  /**
   * `Server-Timing` on API answers: the duration of each phase of the request (auth, rate,
   * space, and a route's own, e.g. upload, quota, enqueue on POST /api/jobs) and the total, for
   * bench/api-latency.ts. Off by default: then no clock is read.
   */
  SERVER_TIMING: Type.Boolean({ default: false }),
  /** `/health` answers 503 while no worker heartbeat is live. `vcfarm all` turns it on for its API. */
  HEALTH_REQUIRE_WORKER: Type.Boolean({ default: false }),
  /** Worker crashes within a minute after which `vcfarm all` stops and exits non-zero. Default 5. */
  WORKER_RESTART_LIMIT: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  /** Uploads and jobs are refused with 507 while DATA_DIR's volume has less free space. 0 = off. Default 256 MiB. */
  MIN_FREE_DISK_BYTES: Type.Integer({ minimum: 0, default: 256 * 1024 * 1024 }),
  /** Deadline of each close step on shutdown (API close, Redis connections); then they are cut. Default 10 s. */
  CLOSE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  /** Directory holding model folders (models/<name>/model.json). */
  MODELS_DIR: Type.String({ minLength: 1, default: './models' }),
  /** `open`: anonymous sessions from POST /api/session; `keys`: only admin-issued API keys. */
  AUTH_MODE: Type.Union([Type.Literal('open'), Type.Literal('keys')], { default: 'open' }),
  /** Plans (priorities, quotas, rate limits) as JSON. Default: config/plans.json of the installation. */
  PLANS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed. Unset: none. */
  TRUSTED_PROXIES: Type.Optional(
    patterned('^[0-9a-fA-F.:/, ]+$', 'IP addresses or CIDR ranges (10.0.0.0/8), separated by commas'),
  ),
  /**
   * The address users reach the service at (`https://vc.example.com`), without a trailing path
   * beyond a prefix the proxy serves it under. Webhook deliveries carry absolute result links made
   * from it; unset, they carry the path alone (`/api/jobs/…/result?exp=…&sig=…`).
   */
  PUBLIC_URL: Type.Optional(
    patterned('^https?://[^/?# ]+(/[^?# ]*)?$', 'an absolute http:// or https:// URL, with no query'),
  ),
  /**
   * Comma-separated origins (`https://app.example.com`) whose pages may call the API from the
   * browser (CORS). Unset: same origin only; a state-changing request (any method but GET/HEAD) with
   * another `Origin` is refused 403 before it does anything.
   */
  CORS_ORIGINS: Type.Optional(
    patterned(
      '^ *(https?://[^/, ]+ *)?(, *https?://[^/, ]+ *)*$',
      'origins (scheme://host[:port], no path) separated by commas',
    ),
  ),
  /** Seconds between two workspace sweeps in an API instance; 0 turns the sweeper off. */
  SWEEP_INTERVAL_SEC: Type.Number({ minimum: 0, default: 600 }),
  /** The upload-time decode pass (true duration) is killed after this many milliseconds. */
  DECODE_CHECK_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 60_000 }),
  /** Upload-time decode passes running at once in one API instance; more wait. 0: one per core. */
  DECODE_CHECKS_MAX: Type.Integer({ minimum: 0, maximum: 1024, default: 0 }),
  /**
   * A whole request (head and body) must arrive within this many ms, or it is answered 400
   * VC_ERR_REQUEST_TIMEOUT and the connection is closed: trickled uploads cannot hold sockets open. Default 5 min (100 MiB at 350 KB/s).
   */
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 300_000 }),
  /**
   * An upload whose body arrives slower than this over a 5 s window is cut off with 400 (a
   * trickling client cannot hold an upload slot and a socket for REQUEST_TIMEOUT_MS). Default 16 KiB/s.
   */
  UPLOAD_MIN_BYTES_PER_SEC: Type.Integer({ minimum: 1, default: 16 * 1024 }),
  /** Uploads (files and voice references) one user may send at once, across every API instance. Default 2. */
  UPLOADS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 2 }),
  /**
   * An upload's slot is a lease in Redis, renewed every third of this while the upload runs: an
   * API instance that dies mid-upload frees its slots within this time. Default 30 s.
   */
  UPLOAD_SLOT_LEASE_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
  /**
   * WebSocket upgrades without a token (it comes in the first message) per client IP per minute:
   * a bucket of their own, so they never use up the `api` limit of the users behind that address;
   * once authenticated a socket counts against its user's `api` limit. Default 60.
   */
  WS_ANONYMOUS_UPGRADES_PER_MIN: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 60 }),
  /** Failed admin-token attempts per client IP per 10 minutes; past it, admin routes answer 429. Default 10. */
  ADMIN_FAILURES_PER_IP: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
  /** Key that signs result links (32+ characters). Unset: DATA_DIR/result-link-secret, created once. */
  RESULT_LINK_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  /** How long a signed result link (`/api/jobs/:id/result?exp=…&sig=…`) stays valid. Default 1 hour. */
  RESULT_LINK_TTL_SEC: Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600, default: 3600 }),
  /**
   * Mean event-loop delay (ms) over which an API instance sheds requests with 503 + Retry-After
   * and `/health/ready` answers 503. 0 = never shed. Default 1000.
   */
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 }),
  /** Port of a worker process's own /metrics and /health/* listener; unset = none (0 = any free port). */
  WORKER_METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  /** Address the worker's metrics listener binds. Default 127.0.0.1 (a local Prometheus or agent). */
  WORKER_METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /** `json` or `pretty`; unset = pretty on a terminal, JSON when piped (what services and tests get). */
  LOG_FORMAT: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('pretty')])),
  /**
   * Let webhooks reach loopback, link-local and private addresses. Off by default: a user's
   * webhook URL must never make the service call into its own network (SSRF). Tests turn it on.
   */
  WEBHOOK_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  /** First retry delay of a failed webhook delivery; doubles each time up to 1 h. Default 10 s. */
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 10, default: 10_000 }),
  /** How long failed webhook deliveries are retried. Default 24 h. */
  WEBHOOK_RETRY_FOR_MS: Type.Integer({ minimum: 1000, default: 24 * 3600 * 1000 }),
  /** A webhook receiver must answer within this many ms, else the delivery is retried. Default 10 s. */
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
});

export type Env = Static<typeof EnvSchema>;
