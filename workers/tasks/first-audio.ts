import { readFileSync } from 'node:fs';

/**
 * Where a voice job's time to first audio goes (issue 16): each step's wall time since the task
 * reached its thread, the CPU time the worker process had spent by then (all its threads), and that
 * of the thread's live children (the job's ffmpeg decoder and encoder, which share the thread's core). On a
 * machine that is not shared, wall time is about the sum of the two CPU figures; on a loaded one the
 * rest is waiting for a core. Reported with the outcome and logged with "conversion completed".
 */
export const FIRST_AUDIO_STEPS = [
  'engine',
  'decoding',
  'headRead',
  'analysed',
  'firstBlock',
  'firstWrite',
  'firstBytes',
] as const;
export type FirstAudioStep = (typeof FIRST_AUDIO_STEPS)[number];

/**
 * `at`: the task's arrival in its thread (epoch ms); each step: [wall ms since then, the process's
 * CPU ms since then, its live children's CPU ms].
 */
export interface FirstAudioTimes {
  at: number;
  steps: Partial<Record<FirstAudioStep, [number, number, number]>>;
}

/** procfs counts CPU time in USER_HZ ticks, 100 a second on Linux whatever the kernel's HZ. */
const TICK_MS = 10;

/**
 * CPU ms of this thread's live children (`/proc/thread-self/children`, each child's utime + stime):
 * the job's ffmpeg processes, spawned from this thread, still running at the first audio. Other
 * pool threads' children are not counted. 0 where procfs lacks it.
 */
function childrenCpuMs(): number {
  let ms = 0;
  try {
    const pids = readFileSync('/proc/thread-self/children', 'latin1').trim();
    for (const pid of pids ? pids.split(' ') : []) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(f[11]) + Number(f[12])) * TICK_MS;
    }
  } catch {
    // A child that exited meanwhile, or no procfs: the figure is a lower bound.
  }
  return ms;
}

export class FirstAudioClock {
  readonly #t0 = performance.now();
  readonly #c0 = process.cpuUsage();
  readonly times: FirstAudioTimes = { at: Date.now(), steps: {} };

  /** Records `step` the first time only. */
  mark(step: FirstAudioStep): void {
    if (this.times.steps[step]) return;
    const c = process.cpuUsage(this.#c0);
    this.times.steps[step] = [
      Math.round(performance.now() - this.#t0),
      Math.round((c.user + c.system) / 1000),
      childrenCpuMs(),
    ];
  }

  has(step: FirstAudioStep): boolean {
    return this.times.steps[step] !== undefined;
  }
}
