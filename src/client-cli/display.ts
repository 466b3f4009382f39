import path from 'node:path';
import cliProgress from 'cli-progress';
import type { JobState } from '../progress/core.js';

/** Shows each file's job: bars on a terminal, a line per 10 % step or state change otherwise. */
export interface ProgressDisplay {
  update(name: string, job: JobState | undefined): void;
  stop(): void;
}

const BAR_SIZE = 30;

export function progressDisplay(stream: NodeJS.WriteStream, names: string[]): ProgressDisplay {
  if (stream.isTTY) {
    // A bar line never wraps (the terminal would scroll a copy per redraw): the file's base name,
    // shortened from the left to what the width leaves beside the bar, percentage and state.
    const room = Math.max(8, (stream.columns || 80) - BAR_SIZE - 22);
    const label = (n: string) => {
      const base = path.basename(n);
      return base.length > room ? `…${base.slice(-(room - 1))}` : base;
    };
    const width = Math.max(...names.map((n) => label(n).length));
    const multi = new cliProgress.MultiBar(
      {
        stream,
        format: '{name} [{bar}] {percentage}% {state}',
        hideCursor: true,
        clearOnComplete: false,
        barsize: BAR_SIZE,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map(
      names.map((n) => [n, multi.create(100, 0, { name: label(n).padEnd(width), state: 'uploading' })]),
    );
    return {
      update(name, job) {
        bars
          .get(name)
          ?.update(Math.round((job?.progress ?? 0) * 100), { state: job?.stage ?? job?.state ?? '' });
      },
      stop: () => multi.stop(),
    };
  }
  const shown = new Map<string, string>();
  return {
    update(name, job) {
      if (!job) return;
      const step = Math.floor(job.progress * 10) * 10;
      const line = job.state === 'active' ? `${name}: ${step}%` : `${name}: ${job.state}`;
      if (shown.get(name) === line) return;
      shown.set(name, line);
      stream.write(`${line}\n`);
    },
    stop() {},
  };
}
