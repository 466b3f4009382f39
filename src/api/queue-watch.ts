import type { QueueMessage } from '../progress/index.js';
import type { ConversionQueue, QueueEstimator, QueuePlace, Throughput } from '../queue/index.js';

/**
 * The places of every one of a user's queued jobs, positions ascending. The ids come from the
 * user's fair-share waiting set (src/queue/fair-share.ts), not from loading the user's jobs: the
 * cost grows with the user's own waiting jobs (at most the plan's maxQueuedJobs), never with the
 * queue's length, and no job is read (docs/BENCHMARKS.md, "Queue places").
 */
export async function queuedPlaces(
  conversions: ConversionQueue,
  estimator: QueueEstimator,
  userId: string,
  throughput?: Throughput,
): Promise<QueuePlace[]> {
  const ids = await conversions.fairShare.waiting(userId);
  const places = await estimator.places(ids, throughput);
  return places.sort((a, b) => a.position - b.position);
}

/** How often a watching socket's queue places are read again. */
const WATCH_MS = 2000;

/**
 * A WebSocket's queue watch (asked for with `"queue": true` in the auth or resume message):
 * every WATCH_MS the user's queued jobs' places are read from the queue as it is, and sent as
 * `{type: "queue", jobs}` when they differ from the last ones sent (an empty list once all started).
 */
export class QueueWatch {
  private timer: NodeJS.Timeout | undefined;
  private last = '[]';
  private reading = false;

  constructor(
    private readonly read: () => Promise<QueuePlace[]>,
    private readonly send: (msg: QueueMessage) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), WATCH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const jobs = await this.read();
      const text = JSON.stringify(jobs);
      if (text !== this.last && this.timer) {
        this.last = text;
        this.send({ type: 'queue', jobs });
      }
    } catch (err) {
      this.onError(err);
    } finally {
      this.reading = false;
    }
  }
}
