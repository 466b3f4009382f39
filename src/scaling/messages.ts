/** What the scaling concern stores and sends. Shared by the API and the worker processes. */

export interface DesiredSize {
  size: number;
  requestId: string;
  at: number;
}

export type AutoscaleSetting = { enabled: true; min: number; max: number } | { enabled: false };

/** The operator's request that switched autoscaling off: its id (acknowledged per worker) and time. */
export interface AutoscaleOff {
  requestId: string;
  at: number;
}

/**
 * The operator's request that switched autoscaling on (or changed its bounds): its id, which each
 * worker acknowledges once it autoscales within the bounds (its pool inside them), and time.
 */
export interface AutoscaleOn {
  requestId: string;
  at: number;
}

export type ScaleCommand =
  | { type: 'resize'; requestId: string; size: number; workerId?: string }
  | { type: 'autoscale'; requestId: string; setting: AutoscaleSetting };

export interface ScaleAck {
  workerId: string;
  host: string;
  pid: number;
  /** Pool size before this request. */
  previous: number;
  size: number;
  /** True once the pool has exactly `size` threads (surplus threads have finished and left). */
  applied: boolean;
  at: number;
}

export interface AutoscaleDecision {
  at: number;
  from: number;
  to: number;
  reason: string;
}

export interface ThreadStats {
  index: number;
  core: number | null;
  tid: number | null;
  busy: boolean;
  retiring: boolean;
  sharedCore: boolean;
}

/** One worker process as it reports itself every heartbeat. */
export interface WorkerStats {
  id: string;
  host: string;
  pid: number;
  size: number;
  threadCount: number;
  busy: number;
  draining: number;
  threads: ThreadStats[];
  jobsDone: number;
  /** Jobs that failed for good; cancellations are not failures and count in `jobsCancelled`. */
  jobsFailed: number;
  jobsCancelled: number;
  meanRealTimeFactor: number | null;
  cpuPercent: number;
  rssBytes: number;
  uptimeSec: number;
  autoscale: {
    enabled: boolean;
    min: number | null;
    max: number | null;
    /** Set by a manual scale request; autoscaling stays off until re-enabled. */
    pinnedByManualScale: boolean;
    recent: AutoscaleDecision[];
  };
  updatedAt: number;
}
