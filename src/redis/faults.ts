/** Redis answering but refusing writes: a fault of the server's state, not of the connection. */
export interface RedisWriteFault {
  code: 'MISCONF' | 'READONLY' | 'OOM' | 'NOREPLICAS';
  /** The real cause in words, for health and logs. */
  reason: string;
}

const REASONS: Record<RedisWriteFault['code'], string> = {
  MISCONF: 'Redis refuses writes because it cannot persist to disk (MISCONF: disk full or not writable?)',
  READONLY: 'Redis refuses writes because it is a read-only replica (READONLY)',
  OOM: 'Redis refuses writes because it reached maxmemory (OOM)',
  NOREPLICAS: 'Redis refuses writes because too few replicas are in sync (NOREPLICAS: min-replicas-to-write)',
};

/** The write fault an error from Redis reports, if it is one (matched on Redis's error prefix). */
export function redisFault(err: unknown): RedisWriteFault | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const m = /\b(MISCONF|READONLY|OOM|NOREPLICAS)\b/.exec(message);
  if (!m) return undefined;
  const code = m[1] as RedisWriteFault['code'];
  return { code, reason: REASONS[code] };
}
