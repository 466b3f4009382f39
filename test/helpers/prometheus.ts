import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { startProcess } from './processes.js';

export interface ScrapeJob {
  job: string;
  targets: string[];
  /** File holding a bearer token Prometheus sends (the admin token for the API). */
  credentialsFile?: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface TestPrometheus {
  url: string;
  /** Instant query; throws with Prometheus's own error text when the query is invalid. */
  query(expr: string): Promise<PromSample[]>;
  stop(): Promise<void>;
}

/**
 * Debian's real `prometheus` (apt-get install prometheus; its service is never started) on a free
 * loopback port, with a temporary config and storage, scraping `jobs` every second and loading
 * `ruleFiles`. Stopped (SIGTERM, then SIGKILL) and its files removed by `stop()`.
 */
export async function startPrometheus(jobs: ScrapeJob[], ruleFiles: string[] = []): Promise<TestPrometheus> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-prom-'));
  const port = await freePort();
  const lines = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    `rule_files: ${JSON.stringify(ruleFiles)}`,
    'scrape_configs:',
  ];
  for (const j of jobs) {
    lines.push(`  - job_name: ${JSON.stringify(j.job)}`);
    if (j.credentialsFile)
      lines.push('    authorization:', `      credentials_file: ${JSON.stringify(j.credentialsFile)}`);
    lines.push('    static_configs:', `      - targets: ${JSON.stringify(j.targets)}`);
  }
  const config = path.join(dir, 'prometheus.yml');
  await writeFile(config, `${lines.join('\n')}\n`);
  const url = `http://127.0.0.1:${port}`;
  const prometheus = await startProcess(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    {
      graceMs: 10_000,
      ready: () =>
        fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        ),
    },
  ).catch(async (err) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const stop = async () => {
    await prometheus.stop();
    await rm(dir, { recursive: true, force: true });
  };
  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: PromSample[] };
      };
      if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
      if (body.data?.resultType !== 'vector') throw new Error(`query ${expr}: ${body.data?.resultType}`);
      return body.data.result;
    },
    stop,
  };
}

/** The one value of a query that must return exactly one series (NaN when it returns none). */
export async function scalar(prom: TestPrometheus, expr: string): Promise<number> {
  const r = await prom.query(expr);
  if (r.length > 1) throw new Error(`query ${expr}: ${r.length} series, expected one`);
  return r.length === 0 ? Number.NaN : Number(r[0].value[1]);
}
