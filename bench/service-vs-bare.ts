import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../test/helpers/client.js';
import { humanSpeech } from '../test/helpers/fixtures.js';
import { startService } from '../test/helpers/service.js';

/**
 * Throughput at the physical limit (issue 4): the same N voice conversions of 30 s of real
 * speech, run
 *   (a) bare, `xargs -P <cores>` of bench/lib/convert-cli.js, one file per process (each process
 *       starts Node and loads the model: the baseline);
 *   (b) bare and warm, `xargs -P <cores> -n N/cores`: one process per core converting its share
 *       with the model loaded once (the harder baseline: what the hardware does without vcfarm);
 *   (c) through the whole service (upload once, N jobs, pinned pool of one thread per core), and
 *       again unpinned (PIN_THREADS=false) for the pinned-vs-unpinned comparison.
 * Rounds repeat the warm bare, pinned and unpinned runs (this machine is noisy); ratios compare
 * runs of the same round.
 *   node dist/bench/service-vs-bare.js [jobs=40] [rounds=2]
 */
const JOBS = Number(process.argv[2] ?? 40);
const ROUNDS = Number(process.argv[3] ?? 2);
const cores = os.availableParallelism();
const cli = fileURLToPath(new URL('./lib/convert-cli.js', import.meta.url));
const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-bench-'));
const input = path.join(dir, 'speech-30s.wav');
execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', humanSpeech(4), '-t', '30', '-ac', '1', input]);
const audioSec = 30 * JOBS;

async function bare(perProcess: number): Promise<number> {
  const t0 = performance.now();
  const outs = Array.from({ length: JOBS }, (_, i) => path.join(dir, `bare-${perProcess}`, `${i}.mp3`));
  await new Promise<void>((resolve, reject) => {
    const xargs = spawn(
      'xargs',
      ['-P', String(cores), '-n', String(perProcess), process.execPath, cli, input],
      { stdio: ['pipe', 'inherit', 'inherit'] },
    );
    xargs.stdin.end(outs.join('\n'));
    xargs.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`xargs exit ${code}`))));
  });
  return (performance.now() - t0) / 1000;
}

async function service(pin: boolean): Promise<number> {
  const svc = await startService({ workers: 1, env: { PIN_THREADS: String(pin) } });
  try {
    const client = await ApiClient.anonymous(svc.baseUrl);
    const up = await client.upload(input);
    const t0 = performance.now();
    const jobs = [];
    for (let i = 0; i < JOBS; i++)
      jobs.push(
        await client.createJob({
          uploadId: up.body.upload.id,
          outputFormat: 'mp3',
          voiceId: 'preset-espeak-f3',
        }),
      );
    for (const j of jobs) {
      const done = await client.waitForJob(j.id, 3_600_000);
      if (done.state !== 'completed') throw new Error(`job ${j.id} ${done.state}`);
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await svc.close();
  }
}

const line = (label: string, s: number, ratio: string) =>
  console.log(
    `${label.padEnd(34)} ${s.toFixed(1).padStart(7)} s   ${(audioSec / s).toFixed(1).padStart(6)}x real time   ${ratio}`,
  );

console.log(
  `${JOBS} conversions of 30 s real speech → mp3 with preset-espeak-f3, ${cores} cores, ${ROUNDS} rounds`,
);
const runs = {
  bare: () => bare(Math.ceil(JOBS / cores)),
  pinned: () => service(true),
  unpinned: () => service(false),
};
type Run = keyof typeof runs;
const times: Record<Run, number[]> = { bare: [], pinned: [], unpinned: [] };
const tCold = await bare(1);
line('bare, one file per process', tCold, '');
for (let r = 0; r < ROUNDS; r++) {
  // Alternate the order so slow drift on a shared machine does not favour one run.
  const order: Run[] = r % 2 === 0 ? ['bare', 'pinned', 'unpinned'] : ['unpinned', 'pinned', 'bare'];
  for (const name of order) times[name].push(await runs[name]());
  const [b, p, u] = [times.bare[r], times.pinned[r], times.unpinned[r]];
  line(`round ${r + 1}: bare, one process per core`, b, 'ratio 1.000');
  line(`round ${r + 1}: service, pinned threads`, p, `ratio ${(b / p).toFixed(3)}`);
  line(`round ${r + 1}: service, unpinned threads`, u, `ratio ${(b / u).toFixed(3)}`);
}
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
const ratio = (name: Run) => mean(times.bare.map((b, i) => b / times[name][i])).toFixed(3);
console.log(
  `mean ratio to the warm bare run of the same round: service pinned ${ratio('pinned')}, unpinned ${ratio('unpinned')}; ` +
    `one file per process ${(mean(times.bare) / tCold).toFixed(3)}; pinned vs unpinned throughput ` +
    mean(times.pinned.map((p, i) => times.unpinned[i] / p)).toFixed(3),
);
await rm(dir, { recursive: true, force: true });
