import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

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
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
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
