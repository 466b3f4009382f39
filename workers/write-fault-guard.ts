import type { Logger } from 'pino';
import type { RedisClient } from '../src/redis/core.js';
import { redisFault } from '../src/redis/core.js';

export interface WriteFaultGuardOptions {
  /** Key of the test write. */
  probeKey: string;
  /** First wait before a test write; doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Redis refusing writes (MISCONF on a full disk, READONLY replica, OOM) makes every job fetch
 * fail at once, and BullMQ retries such errors without delay: the worker spun at ~11,000 error
 * lines a second. On the first such error this pauses the job lanes, then makes a test write
 * with back-off (0.5 s doubling to 10 s) and resumes the lanes once one succeeds.
 */
export class WriteFaultGuard {
  private tripped = false;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly lanes: { pause(): Promise<void>; resume(): void },
    private readonly log: Logger,
    private readonly options: WriteFaultGuardOptions,
  ) {}

  get paused(): boolean {
    return this.tripped;
  }

  /** Returns true when `err` was a write fault (the lanes are paused until Redis accepts writes). */
  onError(err: unknown): boolean {
    const fault = redisFault(err);
    if (!fault) return false;
    if (this.tripped || this.stopped) return true;
    this.tripped = true;
    this.log.error({ cause: fault.code, reason: fault.reason }, 'job lanes paused: Redis refuses writes');
    void this.lanes.pause().then(() => this.recover());
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async recover(): Promise<void> {
    let delay = this.options.minDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? 10_000;
    for (;;) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (this.stopped) return;
      try {
        await this.redis.set(this.options.probeKey, String(Date.now()), 'PX', 60_000);
        break;
      } catch (err) {
        if (!redisFault(err)) this.log.warn({ err: (err as Error).message }, 'test write failed');
        delay = Math.min(delay * 2, max);
      }
    }
    this.tripped = false;
    this.lanes.resume();
    this.log.info('job lanes resumed: Redis accepts writes again');
  }
}
