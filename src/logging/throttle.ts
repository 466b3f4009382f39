/**
 * Lets the same message through at most once per `intervalMs`, and says how many were held
 * back: an error that repeats in a tight loop costs one log line per interval, not thousands.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs = 5000) {}

  /** `undefined`: stay silent; a number: log now, with this many repeats held back since the last line. */
  admit(key: string, now = Date.now()): number | undefined {
    const s = this.seen.get(key);
    if (s && now - s.at < this.intervalMs) {
      s.suppressed++;
      return undefined;
    }
    const suppressed = s?.suppressed ?? 0;
    this.seen.set(key, { at: now, suppressed: 0 });
    if (this.seen.size > 1000) this.seen.clear();
    return suppressed;
  }
}
