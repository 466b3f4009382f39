import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Pair, Verdict } from './judge.js';

/** What each thread of a judge pool works from (workerData). */
export interface JudgePoolData {
  /** The model folder every conversion runs through. */
  modelDir: string;
  /** A PcmCache folder shared by the threads (the LibriSpeech speech decoded there once, by the caller's Judge). */
  cacheDir: string;
}

/**
 * The judge's verdicts on `pairs` (Judge.judge through engineConverter at strength 1, as one thread doing them
 * in turn would give: each conversion is independent of the others), computed in `threads` worker threads,
 * each with its own engine and Judge, and returned in the order of `pairs`. One core per thread: the
 * conversion and the measures are mostly JavaScript, so one thread uses about one core.
 */
export async function judgeInThreads(
  data: JudgePoolData,
  pairs: readonly Pair[],
  threads = Math.min(2, availableParallelism()),
): Promise<Verdict[]> {
  const pool = new Piscina<Pair, Verdict>({
    filename: new URL('./judge-pool-thread.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    workerData: data,
  });
  try {
    return await Promise.all(pairs.map((pair) => pool.run(pair)));
  } finally {
    await pool.destroy();
  }
}
