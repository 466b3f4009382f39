/**
 * Waits for `work` at most `ms`; then calls `onTimeout` (e.g. `redis.disconnect()`) and returns.
 * Every close path goes through this: a close that waits on a connection retrying forever must
 * not hold the process (shutdown hung > 145 s with Redis gone).
 */
export async function withDeadline(
  work: Promise<unknown>,
  ms: number,
  onTimeout?: () => void,
): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    work.then(
      () => 'done' as const,
      () => 'done' as const,
    ),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout') onTimeout?.();
  return outcome;
}
