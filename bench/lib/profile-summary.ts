// Where a process's CPU went, from the .cpuprofile files bench/lib/profiled-cli.ts wrote:
// self time by function and by package, idle excluded.
//   node dist/bench/lib/profile-summary.js <dir>/api-<pid>-*.cpuprofile
import { readFileSync } from 'node:fs';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const self = new Map<string, number>();
let busy = 0;
for (const file of process.argv.slice(2)) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const [i, id] of p.samples.entries()) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    const us = p.timeDeltas[i] ?? 0;
    busy += us;
    const where = frame.url.replace(/.*node_modules\//, 'node_modules/').replace(/.*\/dist\//, '');
    const key = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + us);
  }
}
const share = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
console.log(`busy ${(busy / 1e6).toFixed(1)} s of CPU`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(share(us), key);
const areas = new Map<string, number>();
for (const [key, us] of self) {
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(key)?.[1];
  const area =
    pkg ?? (/ (src|workers)\//.test(key) ? 'vcfarm' : / :-1$/.test(key) ? 'native (syscalls, GC)' : 'node');
  areas.set(area, (areas.get(area) ?? 0) + us);
}
console.log('by area:');
for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(share(us), area);
