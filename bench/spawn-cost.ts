import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Launcher } from '../workers/tasks/launcher.js';
import { processCpu } from './lib/cpu.js';

/**
 * CPU per started process, by the way a pool thread starts its pitch-only ffmpeg: forked from
 * a process holding MB of touched memory (the worker maps about 185 MB), or through a launcher
 * (workers/tasks/launcher.ts), counting this process, the launcher and every child, with the
 * child's short output relayed. The two ways alternate, 4 rounds of 40 starts each.
 *   node dist/bench/spawn-cost.js [MB=185]
 */
const MB = Number(process.argv[2] ?? 185);
const held: Buffer[] = [];
for (let i = 0; i < MB; i++) held.push(Buffer.alloc(1 << 20, 1));
const STARTS = 40;
const ROUNDS = 4;
// What a pitch-only ffmpeg prints in one progress report, in one write.
const args = ['out_time_us=1\nout_time_us=2\nout_time_us=3\nout_time_us=4\nprogress=end\n'];

const launcher = new Launcher();
launcher.warm();
await new Promise((r) => setTimeout(r, 500));
const launcherPid = Number(
  readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'latin1').trim(),
);
const cpuMs = () =>
  [processCpu(process.pid), processCpu(launcherPid)].reduce((n, c) => n + (c.own + c.children) * 1000, 0);

const spent = { forked: 0, launcher: 0 };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 ? (['launcher', 'forked'] as const) : (['forked', 'launcher'] as const);
  for (const way of order) {
    const before = cpuMs();
    for (let i = 0; i < STARTS; i++) {
      const child =
        way === 'forked'
          ? spawn('/usr/bin/printf', args, { stdio: ['ignore', 'pipe', 'pipe'] })
          : launcher.spawn('/usr/bin/printf', args);
      child.stdout.resume();
      child.stderr.resume();
      await new Promise((r) => child.once('close', r));
    }
    spent[way] += cpuMs() - before;
  }
}
const per = (ms: number) => (ms / STARTS / ROUNDS).toFixed(2);
console.log(
  `${MB} MB held: CPU per start (this process, the launcher and all children): forked ${per(spent.forked)} ms, ` +
    `through the launcher ${per(spent.launcher)} ms`,
);
process.exit(0);
