export interface AutoscaleInput {
  now: number;
  size: number;
  busy: number;
  /** Jobs waiting in the queue (all priorities). */
  waiting: number;
  /** Cores this process may use. */
  cores: number;
  min: number;
  max: number;
  /** Since when the pool has had idle threads (undefined: it is fully busy). */
  idleSince: number | undefined;
  lastChangeAt: number;
  idleMs: number;
  cooldownMs: number;
}

export interface AutoscaleChange {
  size: number;
  reason: string;
}

/**
 * One autoscaling decision, like Celery's --autoscale=max,min: grow while jobs wait, every
 * thread is busy and cores are free; shrink after an idle period; never outside [min, max];
 * never sooner than the cool-down after the last change. Pure, so it is tested on its own.
 */
export function decideAutoscale(s: AutoscaleInput): AutoscaleChange | undefined {
  if (s.size < s.min) return { size: s.min, reason: `below the minimum of ${s.min}` };
  if (s.size > s.max) return { size: s.max, reason: `above the maximum of ${s.max}` };
  if (s.now - s.lastChangeAt < s.cooldownMs) return undefined;
  const ceiling = Math.min(s.max, Math.max(s.cores, s.min));
  if (s.waiting > 0 && s.busy >= s.size && s.size < ceiling) {
    const size = Math.min(ceiling, s.size + s.waiting);
    return {
      size,
      reason: `${s.waiting} job(s) waiting, all ${s.size} thread(s) busy, ${ceiling - s.size} core(s) free`,
    };
  }
  if (s.idleSince !== undefined && s.now - s.idleSince >= s.idleMs && s.size > s.min) {
    const size = Math.max(s.min, s.busy);
    if (size < s.size)
      return {
        size,
        reason: `${s.size - s.busy} thread(s) idle for ${Math.round((s.now - s.idleSince) / 1000)} s`,
      };
  }
  return undefined;
}
