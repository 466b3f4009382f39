import os from 'node:os';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What a job did, as metrics label it: a voice conversion, a pitch-only conversion, or a voice clone. */
export type JobKind = 'voice' | 'pitch' | 'clone';
export type JobOutcomeLabel = 'completed' | 'failed' | 'cancelled';

export const JOB_KINDS: readonly JobKind[] = ['voice', 'pitch', 'clone'];
export const JOB_OUTCOMES: readonly JobOutcomeLabel[] = ['completed', 'failed', 'cancelled'];
export const PRIORITY_CLASSES = ['high', 'normal', 'low'] as const;

/** Seconds: a 1 s clip takes ~0.1 s, an hour of audio minutes. */
const JOB_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
/** Seconds from enqueue to start: immediate to a long backlog. */
const WAIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
/** Seconds of audio per second of work. */
const RTF_BUCKETS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500];

/** What the gauges read at scrape time from the pool that owns the threads. */
export interface PoolView {
  size: number;
  busyCount: number;
  drainingCount: number;
  threads(): { core: number | null; retiring: boolean }[];
  ortSessions(): number;
}

/**
 * The metrics of one worker process, in its own registry: jobs by kind/model/outcome, durations,
 * real-time factor, queue wait by priority class, pool threads per host and per core, ffmpeg
 * failures, ONNX Runtime sessions, process defaults. `host` is the machine's name, so several
 * worker processes of one host add up; no user or job id is ever a label.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly host = os.hostname();
  readonly jobs = new Counter({
    name: 'vcfarm_jobs_total',
    help: 'Jobs that ended, by kind (voice, pitch, clone), model and outcome (completed, failed, cancelled).',
    labelNames: ['kind', 'model', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'vcfarm_job_duration_seconds',
    help: 'Jobs that ended, from enqueue to the end of the last attempt, by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    buckets: JOB_BUCKETS,
    registers: [this.registry],
  });
  readonly processing = new Histogram({
    name: 'vcfarm_job_processing_seconds',
    help: 'Time a pool thread worked on a completed job (its last attempt), by kind.',
    labelNames: ['kind'] as const,
    buckets: JOB_BUCKETS,
    registers: [this.registry],
  });
  readonly realTimeFactor = new Histogram({
    name: 'vcfarm_job_realtime_factor',
    help: 'Seconds of audio converted per second of processing, per completed conversion, by kind.',
    labelNames: ['kind'] as const,
    buckets: RTF_BUCKETS,
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'vcfarm_queue_wait_seconds',
    help: 'Time from enqueue to the start of the first attempt of a job, by priority class.',
    labelNames: ['priority'] as const,
    buckets: WAIT_BUCKETS,
    registers: [this.registry],
  });
  readonly ffmpegFailures = new Counter({
    name: 'vcfarm_ffmpeg_failures_total',
    help: 'Job attempts that ffmpeg failed, by kind: decode (input does not decode), pipeline (encoder or other).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(pool: PoolView, options: { defaults?: boolean } = {}) {
    const host = this.host;
    new Gauge({
      name: 'vcfarm_pool_threads',
      help: 'Pool threads of this worker process by state: size (taking jobs), busy, retiring.',
      labelNames: ['host', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.labels(host, 'size').set(pool.size);
        this.labels(host, 'busy').set(pool.busyCount);
        this.labels(host, 'retiring').set(pool.drainingCount);
      },
    });
    new Gauge({
      name: 'vcfarm_pool_threads_per_core',
      help: 'Pool threads pinned to each core (retiring ones included); more than 1 means shared cores.',
      labelNames: ['host', 'core'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const perCore = new Map<string, number>();
        for (const t of pool.threads()) {
          const core = t.core === null ? 'unpinned' : String(t.core);
          perCore.set(core, (perCore.get(core) ?? 0) + 1);
        }
        for (const [core, n] of perCore) this.labels(host, core).set(n);
      },
    });
    new Gauge({
      name: 'vcfarm_ort_sessions',
      help: 'ONNX Runtime sessions loaded in the pool threads of this process (one per graph per model per thread).',
      registers: [this.registry],
      collect() {
        this.set(pool.ortSessions());
      },
    });
    for (const p of PRIORITY_CLASSES) this.queueWait.zero({ priority: p });
    for (const k of ['decode', 'pipeline']) this.ffmpegFailures.labels(k).inc(0);
    if (options.defaults !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Pre-sets each kind/outcome pair of a model, so a failure rate reads 0 before the first failure. */
  seedModel(model: string): void {
    for (const kind of JOB_KINDS)
      for (const outcome of JOB_OUTCOMES)
        this.jobs.labels(kind, kind === 'pitch' ? 'none' : model, outcome).inc(0);
  }
}

/** Job totals of this process as the heartbeat reports them, read from the same counters Prometheus scrapes. */
export interface JobTotals {
  completed: number;
  failed: number;
  cancelled: number;
  meanRealTimeFactor: number | null;
}

export async function jobTotals(metrics: WorkerMetrics): Promise<JobTotals> {
  const totals = { completed: 0, failed: 0, cancelled: 0 };
  for (const v of (await metrics.jobs.get()).values) {
    const outcome = v.labels.outcome as JobOutcomeLabel;
    if (outcome in totals) totals[outcome] += v.value;
  }
  let sum = 0;
  let count = 0;
  for (const v of (await metrics.realTimeFactor.get()).values) {
    if (v.metricName === 'vcfarm_job_realtime_factor_sum') sum += v.value;
    if (v.metricName === 'vcfarm_job_realtime_factor_count') count += v.value;
  }
  return { ...totals, meanRealTimeFactor: count > 0 ? sum / count : null };
}
