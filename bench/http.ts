// GET /api/jobs/:id requests per second with autocannon (its own process): directly to one API
// instance, through HAProxy with 1 instance behind it, and through HAProxy with 2 instances.
// Ratios are against the direct run. Everything shares this machine's cores (load generator,
// HAProxy, the instances, Redis), so this shows HAProxy's overhead and how far a second
// instance helps here, not what separate machines would do.
//   node dist/bench/http.js [seconds=10] [connections=50]
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { ApiClient } from '../test/helpers/client.js';
import { startCluster } from '../test/helpers/cluster.js';
import { espeakSentence } from '../test/helpers/fixtures.js';
import { startHaproxy } from '../test/helpers/haproxy.js';

const execFileAsync = promisify(execFile);
const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 50);
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

async function load(
  url: string,
  token: string,
  seconds: number,
): Promise<{ rps: number; p99: number; errors: number }> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      AUTOCANNON,
      '-j',
      '-c',
      String(CONNECTIONS),
      '-d',
      String(seconds),
      '-H',
      `authorization=Bearer ${token}`,
      url,
    ],
    { maxBuffer: 1 << 24 },
  );
  const r = JSON.parse(stdout) as {
    requests: { average: number };
    latency: { p99: number };
    errors: number;
    non2xx: number;
  };
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function main(): Promise<void> {
  const cluster = await startCluster({ instances: 2, env: { LOG_LEVEL: 'warn' }, maxUsers: 100 });
  const single = await startHaproxy({
    instances: 1,
    apiBasePort: cluster.apis[0].port,
    dir: cluster.dataDir,
    env: { CHECK_INTER: '1s' },
  });
  try {
    const client = await ApiClient.anonymous(cluster.apis[0].url);
    const up = await client.upload(espeakSentence('en-us+f3'));
    const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
    await client.waitForJob(job.id);
    const token = client.session?.token ?? '';
    const path = `/api/jobs/${job.id}`;
    const runs: [string, string][] = [
      ['direct, 1 instance', `${cluster.apis[0].url}${path}`],
      ['haproxy, 1 instance', `${single.url}${path}`],
      ['haproxy, 2 instances', `${cluster.haproxy.url}${path}`],
    ];
    const results: Record<string, { rps: number; p99: number; errors: number }> = {};
    for (const [name, url] of runs) {
      await load(url, token, 2); // warm-up: JIT, connection pools
      results[name] = await load(url, token, SECONDS);
    }
    const base = results['direct, 1 instance'].rps;
    for (const [name, r] of Object.entries(results))
      console.log(
        JSON.stringify({
          scenario: name,
          connections: CONNECTIONS,
          seconds: SECONDS,
          reqPerSec: Math.round(r.rps),
          ratioToDirect: Number((r.rps / base).toFixed(2)),
          p99Ms: r.p99,
          errors: r.errors,
        }),
      );
  } finally {
    await single.stop();
    await cluster.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
