/**
 * The dashboard's one reader of `/api/system/stats` and `/api/queue/status`: everything the
 * dashboard shows about workers, the queue and throughput goes through these shapes, so a change
 * of the stats' sources (e.g. Prometheus metrics) changes this file only.
 */

export interface Thread {
  index: number;
  core: number | null;
  state: 'busy' | 'idle' | 'retiring';
}
export interface WorkerView {
  id: string;
  host: string;
  pid: number;
  size: number;
  threads: Thread[];
  jobsDone: number;
  jobsFailed: number;
  meanRealTimeFactor: number | null;
  autoscale: { enabled: boolean; min: number | null; max: number | null };
}
export interface WindowCounts {
  window: string;
  completed: number;
  failed: number;
  cancelled: number;
}
export interface DashboardStats {
  totals: { workers: number; threads: number; busy: number };
  workers: WorkerView[];
  windows: WindowCounts[];
  /** Jobs in the queue by state; `failed` excludes cancellations, which are counted apart. */
  queue: Record<string, number>;
  waitingByClass: Record<string, number>;
}
/** One point of the live charts. */
export interface Sample {
  t: number;
  completedPerMin: number;
  failedPerMin: number;
  cancelledPerMin: number;
  waitingHigh: number;
  waitingNormal: number;
  waitingLow: number;
  threads: number;
  busy: number;
}

interface RawWorker {
  id: string;
  host: string;
  pid: number;
  size: number;
  threads: { index: number; core: number | null; busy: boolean; retiring: boolean }[];
  jobsDone: number;
  jobsFailed: number;
  meanRealTimeFactor: number | null;
  autoscale: WorkerView['autoscale'];
}
interface RawStats {
  totals: { workers: number; threads: number; busy: number };
  workers: RawWorker[];
  throughput: { window: string; completed: number; failed: number; cancelled?: number }[];
}
interface RawQueue {
  counts: Record<string, number>;
  waitingByPriority: Record<string, number>;
}

export function adaptStats(stats: RawStats, queue: RawQueue | undefined): DashboardStats {
  return {
    totals: stats.totals,
    workers: stats.workers.map((w) => ({
      ...w,
      threads: w.threads.map((t) => ({
        index: t.index,
        core: t.core,
        state: t.retiring ? 'retiring' : t.busy ? 'busy' : 'idle',
      })),
    })),
    windows: stats.throughput.map((t) => ({
      window: t.window,
      completed: t.completed,
      failed: t.failed,
      cancelled: t.cancelled ?? 0,
    })),
    queue: queue?.counts ?? {},
    waitingByClass: queue?.waitingByPriority ?? {},
  };
}

/** The chart point of a reading: per-minute rates over the 1-minute window, waiting jobs by class, threads. */
export function sampleOf(s: DashboardStats, t: number): Sample {
  const minute = s.windows.find((w) => w.window === '1m') ?? { completed: 0, failed: 0, cancelled: 0 };
  return {
    t,
    completedPerMin: minute.completed,
    failedPerMin: minute.failed,
    cancelledPerMin: minute.cancelled,
    waitingHigh: s.waitingByClass.high ?? 0,
    waitingNormal: s.waitingByClass.normal ?? 0,
    waitingLow: s.waitingByClass.low ?? 0,
    threads: s.totals.threads,
    busy: s.totals.busy,
  };
}

/** The samples of the last `keepSec` seconds, with `next` appended. */
export function keepRecent(samples: Sample[], next: Sample, keepSec: number): Sample[] {
  return [...samples.filter((s) => s.t > next.t - keepSec * 1000), next];
}

/** "1m: 4 done, 1 failed, 2 cancelled". */
export function windowText(w: WindowCounts): string {
  return `${w.window}: ${w.completed} done, ${w.failed} failed, ${w.cancelled} cancelled`;
}
