import type { Queue } from 'bullmq';
import type { ConversionJobData, ConversionResult, FailureView, UserUsage } from './conversion-job.js';
import { publicState, toJobView } from './job-view.js';

type ConversionBullQueue = Queue<ConversionJobData, ConversionResult>;

/** Finished jobs read for the admin views: the newest this many of each of completed and failed. */
const SAMPLE = 1000;

/** The newest jobs that failed for good (cancellations are not failures), newest first. */
export async function recentFailures(queue: ConversionBullQueue, limit: number): Promise<FailureView[]> {
  const failed = await queue.getJobs(['failed'], 0, SAMPLE - 1, false);
  const out: FailureView[] = [];
  for (const job of failed) {
    if (!job || publicState('failed', job.failedReason) !== 'failed') continue;
    const view = toJobView(job, 'failed');
    out.push({
      id: view.id,
      userId: job.data.userId,
      kind: view.kind,
      filename: view.filename,
      code: view.error?.code ?? 'VC_ERR_INTERNAL',
      message: view.error?.message ?? '',
      finishedAt: view.finishedAt,
    });
  }
  return out.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0)).slice(0, limit);
}

/**
 * Per-user counts: every queued and running job, and the finished ones among the newest SAMPLE
 * completed and SAMPLE failed jobs the queue keeps and the newest SAMPLE jobs cancelled while
 * queued (`cancelledQueued`, their owners: ConversionQueue.cancelledWhileQueued); `sampled` says
 * how many were read. Busiest first.
 */
export async function usageByUser(
  queue: ConversionBullQueue,
  cancelledQueued: (limit: number) => Promise<string[]>,
): Promise<{ users: UserUsage[]; sampled: number }> {
  const [active, waiting, done, failed, cancelledOwners] = await Promise.all([
    queue.getJobs(['active'], 0, -1),
    queue.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1),
    queue.getJobs(['completed'], 0, SAMPLE - 1, false),
    queue.getJobs(['failed'], 0, SAMPLE - 1, false),
    cancelledQueued(SAMPLE),
  ]);
  const users = new Map<string, UserUsage>();
  const of = (userId: string) => {
    let u = users.get(userId);
    if (!u) {
      u = { userId, queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0, audioSec: 0 };
      users.set(userId, u);
    }
    return u;
  };
  for (const job of active) if (job) of(job.data.userId).active++;
  for (const job of waiting) if (job) of(job.data.userId).queued++;
  for (const job of done) {
    if (!job) continue;
    const u = of(job.data.userId);
    u.completed++;
    u.audioSec += job.data.durationSec ?? 0;
  }
  for (const job of failed) {
    if (!job) continue;
    const u = of(job.data.userId);
    if (publicState('failed', job.failedReason) === 'cancelled') u.cancelled++;
    else u.failed++;
  }
  for (const userId of cancelledOwners) of(userId).cancelled++;
  const busy = (u: UserUsage) => u.active * 1e9 + u.queued * 1e6 + u.completed + u.failed + u.cancelled;
  return {
    users: [...users.values()].sort((a, b) => busy(b) - busy(a)),
    sampled: done.length + failed.length + cancelledOwners.length,
  };
}
