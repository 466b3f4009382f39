// `vcfarm <role>` under V8's sampling profiler, for a bench run with BENCH_PROFILE_DIR set: a
// .cpuprofile every 3 s (<role>-<pid>-<n>), since the cluster helpers end API processes with
// SIGKILL and nothing written at exit would survive. Read them with bench/lib/profile-summary.ts.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_PROFILE_DIR ?? '.';
const role = process.argv[2] ?? 'vcfarm';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 250 });
session.post('Profiler.start');
let part = 0;
setInterval(() => {
  session.post('Profiler.stop', (err, res) => {
    if (!err) {
      const file = `${role}-${process.pid}-${String(part++).padStart(3, '0')}.cpuprofile`;
      writeFileSync(path.join(dir, file), JSON.stringify(res.profile));
    }
    session.post('Profiler.start');
  });
}, 3000).unref();
await import('../../src/cli.js');
