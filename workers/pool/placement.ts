/**
 * The core for a new thread: the allowed core with the fewest threads on it, lowest first.
 * With no more threads than cores every thread gets its own core; beyond that they share
 * round-robin.
 */
export function pickCore(cores: readonly number[], taken: readonly (number | null)[]): number {
  let best = cores[0];
  let bestCount = Number.POSITIVE_INFINITY;
  for (const core of cores) {
    const count = taken.filter((c) => c === core).length;
    if (count < bestCount) {
      best = core;
      bestCount = count;
    }
  }
  return best;
}
