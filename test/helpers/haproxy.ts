import { type ChildProcess, execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { consecutiveFreePorts } from './ports.js';
import { startProcess } from './processes.js';

const execFileAsync = promisify(execFile);

export const DEPLOY_SCRIPT = fileURLToPath(new URL('../../../scripts/deploy-multiuser.sh', import.meta.url));
export const HAPROXY_TEMPLATE = fileURLToPath(new URL('../../../haproxy.cfg', import.meta.url));

export interface RenderOptions {
  instances: number;
  maxUsers: number;
  env: Record<string, string>;
}

/** The HAProxy config the deploy script would run, rendered by `deploy-multiuser.sh config`. */
export async function renderHaproxyConfig(opts: RenderOptions): Promise<string> {
  const { stdout } = await execFileAsync(
    'bash',
    [DEPLOY_SCRIPT, 'config', String(opts.instances), String(opts.maxUsers)],
    { env: { ...process.env, ...opts.env } },
  );
  return stdout;
}

/** `haproxy -c -f file`: resolves with the exit code and output. */
export async function checkHaproxyConfig(
  file: string,
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('haproxy', ['-c', '-f', file], {
      env: { ...process.env, ...env },
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export interface Haproxy {
  url: string;
  statsUrl: string;
  statsAuth: string;
  process: ChildProcess;
  /** What HAProxy printed (server state changes). */
  output(): string;
  /** Server status from the stats page CSV, e.g. `{ api1: 'UP', api2: 'DOWN' }`, for one backend. */
  serverStatus(backend?: string): Promise<Record<string, string>>;
  /** Polls the stats page until `server` has `status` (e.g. DOWN after a kill). */
  waitForStatus(server: string, status: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface HaproxyOptions {
  instances: number;
  apiBasePort: number;
  dir: string;
  /** Sizes maxconn and the like, as the deploy script's max_users does. Default 100. */
  maxUsers?: number;
  /** Extra template variables, e.g. CHECK_INTER=200ms. */
  env?: Record<string, string>;
}

/** A real HAProxy (Debian's package) in front of API instances, from the deploy script's config. */
export async function startHaproxy(opts: HaproxyOptions): Promise<Haproxy> {
  const [httpPort, statsPort] = await Promise.all([consecutiveFreePorts(1), consecutiveFreePorts(1)]);
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const env = {
    HTTP_ADDR: '127.0.0.1',
    HTTP_PORT: String(httpPort[0]),
    STATS_ADDR: '127.0.0.1',
    STATS_PORT: String(statsPort[0]),
    STATS_USER: 'ops',
    STATS_PASSWORD: password,
    API_BASE_PORT: String(opts.apiBasePort),
    DATA_DIR: opts.dir,
    ...opts.env,
  };
  const cfg = await renderHaproxyConfig({ instances: opts.instances, maxUsers: opts.maxUsers ?? 100, env });
  const file = path.join(opts.dir, 'haproxy.cfg');
  await writeFile(file, cfg, { mode: 0o600 });
  const check = await checkHaproxyConfig(file);
  if (check.code !== 0) throw new Error(`generated config is invalid: ${check.output}`);
  const url = `http://127.0.0.1:${httpPort[0]}`;
  // Up once the frontend answers through to an instance.
  const started = await startProcess('haproxy', ['-db', '-f', file], {
    graceMs: 0,
    readyTimeoutMs: 10_000,
    ready: () =>
      fetch(`${url}/health`).then(
        (r) => r.status === 200,
        () => false,
      ),
  });
  const child = started.process;
  const out = () => started.text.join('\n');
  const statsUrl = `http://127.0.0.1:${statsPort[0]}/stats`;
  const statsAuth = `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

  const serverStatus = async (backend = 'api_http') => {
    const res = await fetch(`${statsUrl};csv`, { headers: { authorization: statsAuth } });
    const text = await res.text();
    const lines = text.replace(/^# /, '').trim().split('\n');
    const header = lines[0].split(',');
    const px = header.indexOf('pxname');
    const sv = header.indexOf('svname');
    const st = header.indexOf('status');
    const out: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const cols = line.split(',');
      if (cols[px] === backend && cols[sv] !== 'FRONTEND' && cols[sv] !== 'BACKEND') out[cols[sv]] = cols[st];
    }
    return out;
  };

  const h: Haproxy = {
    url,
    statsUrl,
    statsAuth,
    process: child,
    output: out,
    serverStatus,
    async waitForStatus(server, status, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = (await serverStatus().catch(() => ({}) as Record<string, string>))[server] ?? '';
        // "UP 1/2" while falling (or before the first check), "DOWN 1/2" while rising: only a
        // settled state counts.
        if (now.split(' ')[0] === status && !/\d\/\d/.test(now)) return;
        if (Date.now() > deadline)
          throw new Error(`${server} is "${now}", not ${status}, after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: started.kill,
  };
  // And every instance has passed a health check.
  for (let i = 1; i <= opts.instances; i++) await h.waitForStatus(`api${i}`, 'UP');
  return h;
}
