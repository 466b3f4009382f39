import type { Static } from 'typebox';
import { Type } from 'typebox';
import type { QueueStatus, SystemStats } from '../scaling/index.js';

/**
 * Response schemas of GET /api/system/stats and GET /api/queue/status, for the OpenAPI document
 * and the serializer. The TypeScript types in src/scaling stay the source the code uses; the
 * checks at the end of this file stop the build when the two drift apart.
 */
const Count = Type.Integer({ minimum: 0 });

const QueueCounts = Type.Object({
  waiting: Count,
  active: Count,
  delayed: Count,
  completed: Count,
  /** Failed for good; cancellations are counted apart. */
  failed: Count,
  cancelled: Count,
});

export const QueueStatusSchema = Type.Object({
  counts: QueueCounts,
  waitingByPriority: Type.Record(Type.String(), Count),
  oldestWaitingAgeSec: Type.Union([Type.Number(), Type.Null()]),
  /** Waiting jobs inspected for the per-class figures (a sample beyond 5000). */
  sampledWaiting: Count,
});

const ThreadStats = Type.Object({
  index: Type.Integer(),
  core: Type.Union([Type.Integer(), Type.Null()]),
  tid: Type.Union([Type.Integer(), Type.Null()]),
  busy: Type.Boolean(),
  retiring: Type.Boolean(),
  sharedCore: Type.Boolean(),
});

const AutoscaleDecision = Type.Object({
  at: Type.Number(),
  from: Type.Integer(),
  to: Type.Integer(),
  reason: Type.String(),
});

const WorkerStats = Type.Object({
  id: Type.String(),
  host: Type.String(),
  pid: Type.Integer(),
  size: Type.Integer(),
  threadCount: Type.Integer(),
  busy: Type.Integer(),
  draining: Type.Integer(),
  threads: Type.Array(ThreadStats),
  jobsDone: Type.Number(),
  jobsFailed: Type.Number(),
  jobsCancelled: Type.Number(),
  meanRealTimeFactor: Type.Union([Type.Number(), Type.Null()]),
  cpuPercent: Type.Number(),
  rssBytes: Type.Number(),
  uptimeSec: Type.Number(),
  autoscale: Type.Object({
    enabled: Type.Boolean(),
    min: Type.Union([Type.Integer(), Type.Null()]),
    max: Type.Union([Type.Integer(), Type.Null()]),
    pinnedByManualScale: Type.Boolean(),
    recent: Type.Array(AutoscaleDecision),
  }),
  updatedAt: Type.Number(),
});

export const SystemStatsSchema = Type.Object({
  workers: Type.Array(WorkerStats),
  totals: Type.Object({ workers: Count, threads: Count, busy: Count, draining: Count }),
  queue: QueueCounts,
  throughput: Type.Array(
    Type.Object({
      window: Type.String(),
      completed: Count,
      failed: Count,
      cancelled: Count,
      perMinute: Type.Number(),
    }),
  ),
  autoscale: Type.Union([
    Type.Object({ enabled: Type.Literal(true), min: Type.Integer(), max: Type.Integer() }),
    Type.Object({ enabled: Type.Literal(false) }),
    Type.Object({ enabled: Type.Literal('as-configured') }),
  ]),
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statsSame: Same<Static<typeof SystemStatsSchema>, SystemStats> = true;
const queueSame: Same<Static<typeof QueueStatusSchema>, QueueStatus> = true;
void statsSame;
void queueSame;
