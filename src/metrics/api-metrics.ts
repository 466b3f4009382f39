import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds; from a fast JSON answer to a large upload. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Rate classes as `src/limits` names them; pre-set so a refusal rate reads 0 rather than nothing. */
export const RATE_CLASSES = [
  'api',
  'uploads',
  'conversions',
  'voiceClones',
  'session',
  'wsAnonymous',
] as const;

/**
 * The metrics of one API instance, in a registry of its own (no global default registry):
 * HTTP, rate limits, WebSockets, the sweeper, process defaults. Queue depth is added by the
 * instance that holds the queue reader's lease (`QueueDepthReader`). Labels are bounded: route
 * patterns (never raw URLs), status codes, rate classes, message types.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'vcfarm_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status code, from arrival to the last byte sent.',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'vcfarm_rate_limit_refusals_total',
    help: 'Requests refused with 429 because a rate limit was reached, by rate class.',
    labelNames: ['class'] as const,
    registers: [this.registry],
  });
  readonly wsClients = new Gauge({
    name: 'vcfarm_ws_clients',
    help: 'Open WebSocket connections on this instance (authenticated or not yet).',
    registers: [this.registry],
  });
  readonly wsMessages = new Counter({
    name: 'vcfarm_ws_messages_sent_total',
    help: 'Messages sent to WebSocket clients, by message type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly wsCoalesced = new Counter({
    name: 'vcfarm_ws_progress_coalesced_total',
    help: 'Progress messages held back for a slow client and replaced by a later one (never sent).',
    registers: [this.registry],
  });
  readonly wsCutOff = new Counter({
    name: 'vcfarm_ws_slow_clients_cut_off_total',
    help: 'WebSocket clients closed for being too far behind (they resume from their last event id).',
    registers: [this.registry],
  });
  readonly sweeps = new Counter({
    name: 'vcfarm_sweeper_runs_total',
    help: 'Workspace sweeps this instance ran (the Redis lock lets one instance sweep at a time).',
    registers: [this.registry],
  });
  readonly sweptBytes = new Counter({
    name: 'vcfarm_sweeper_removed_bytes_total',
    help: 'Bytes of expired files the sweeper removed.',
    registers: [this.registry],
  });
  readonly sweptFiles = new Counter({
    name: 'vcfarm_sweeper_removed_files_total',
    help: 'Expired files (uploads, voices, outputs) the sweeper removed.',
    registers: [this.registry],
  });

  /** Whether Redis answers a PING within 1 s, read at scrape time (0 while it is down). */
  readonly redisUp: Gauge;

  constructor(options: { defaults?: boolean; pingRedis?: () => Promise<unknown> } = {}) {
    const ping = options.pingRedis;
    this.redisUp = new Gauge({
      name: 'vcfarm_redis_up',
      help: 'Whether Redis answered this API instance within 1 s at scrape time (1) or not (0).',
      registers: [this.registry],
      async collect() {
        if (!ping) return;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), 1000);
        });
        const ok = await Promise.race([ping(), late]).then(
          () => 1,
          () => 0,
        );
        clearTimeout(timer);
        this.set(ok);
      },
    });
    for (const c of RATE_CLASSES) this.rateLimited.labels(c).inc(0);
    if (options.defaults !== false) collectDefaultMetrics({ register: this.registry });
  }
}
