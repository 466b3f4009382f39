import cliProgress from 'cli-progress';
import type { JobState } from '../progress/core.js';

/** Shows each file's job: bars on a terminal, a line per 10 % step or state change otherwise. */
export interface ProgressDisplay {
  update(name: string, job: JobState | undefined): void;
  stop(): void;
}

export function progressDisplay(stream: NodeJS.WriteStream, names: string[]): ProgressDisplay {
  if (stream.isTTY) {
    const width = Math.max(...names.map((n) => n.length));
    const multi = new cliProgress.MultiBar(
      {
        stream,
        format: '{name} [{bar}] {percentage}% {state}',
        hideCursor: true,
        clearOnComplete: false,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map(
      names.map((n) => [n, multi.create(100, 0, { name: n.padEnd(width), state: 'uploading' })]),
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
