import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { maxConnectionsFor, wsMaxSocketsFor } from '../../src/deploy/index.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import {
  checkHaproxyConfig,
  DEPLOY_SCRIPT,
  HAPROXY_TEMPLATE,
  renderHaproxyConfig,
} from '../helpers/haproxy.js';
import { LiveEvents } from '../helpers/live-events.js';
import { writePlans } from '../helpers/plans.js';
import { consecutiveFreePorts } from '../helpers/ports.js';
import { isAlive, processesMatching } from '../helpers/processes.js';
import { rawRedis } from '../helpers/redis.js';

const execFileAsync = promisify(execFile);

async function deploy(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('bash', [DEPLOY_SCRIPT, ...args], {
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('--dry-run prints the plan for N instances and max users, and starts nothing', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-deploy-'));
  try {
    const env = { DATA_DIR: dataDir, API_BASE_PORT: '9101', HTTP_PORT: '8088', STATS_PORT: '9404' };
    const res = await deploy(['local', '3', '200', '--dry-run'], env);
    assert.equal(res.code, 0, res.stderr);
    const out = res.stdout;
    assert.match(out, /3 API instance\(s\) for up to 200 users/);
    assert.match(out, /api instances: +3 on 127\.0\.0\.1:9101 127\.0\.0\.1:9102 127\.0\.0\.1:9103/);
    assert.match(out, new RegExp(`workers: +1 process\\(es\\) x ${os.availableParallelism()} pinned`));
    assert.match(out, /haproxy: +http:\/\/0\.0\.0\.0:8088\//);
    assert.match(out, /stats page: +http:\/\/127\.0\.0\.1:9404\/stats/);
    // 200 users × (4 sockets + 4 requests) = 1600 connections, plus 32 for the stats page;
    // 200 × 4 / 3 requests per instance.
    assert.match(out, /haproxy maxconn: +1632 \(frontend 1600: /);
    assert.match(out, /http requests per instance: +267 /);
    assert.match(out, /websockets in all: +800, about 267 per instance/);
    // Each instance's WS_MAX_SOCKETS is what the descriptor limit it inherits leaves (api-sizing.ts).
    const hard = Number(execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim());
    assert.match(
      out,
      new RegExp(`websockets per instance cap: +${wsMaxSocketsFor(hard, 267)} \\(WS_MAX_SOCKETS`),
    );
    assert.match(out, /dry run: nothing was started/);
    assert.equal(existsSync(path.join(dataDir, 'run')), false);

    // Usage errors; the systemd and docker tiers take a tier name (deploy-tiers.test.ts).
    assert.equal((await deploy(['local', '0', '10', '--dry-run'], env)).code, 1);
    assert.equal((await deploy(['local', '2'], env)).code, 2);
    for (const tier of ['systemd', 'docker']) {
      const r = await deploy([tier, '2', '50'], env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /deploy-multiuser\.sh systemd <tier> \[--dry-run\] \[--root DIR\]/);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('the generated HAProxy configs and the commented reference pass `haproxy -c`', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-haproxy-'));
  try {
    for (const n of [1, 2, 5]) {
      const cfg = await renderHaproxyConfig({
        instances: n,
        maxUsers: 50,
        env: { DATA_DIR: dir, API_BASE_PORT: '9201', STATS_PASSWORD: 'secret' },
      });
      const file = path.join(dir, `haproxy-${n}.cfg`);
      await writeFile(file, cfg);
      const check = await checkHaproxyConfig(file);
      assert.equal(check.code, 0, check.output);
      assert.doesNotMatch(cfg, /\$\{/, 'every variable is filled in');
      const http = cfg.match(/^ {2}server api\d+ "127\.0\.0\.1:\d+" check$/gm) ?? [];
      const ws = cfg.match(/^ {2}server api\d+ "127\.0\.0\.1:\d+" track api_http\/api\d+$/gm) ?? [];
      assert.equal(http.length, n);
      assert.equal(ws.length, n);
      assert.ok(cfg.includes(`server api${n} "127.0.0.1:${9200 + n}" track api_http/api${n}`));
      assert.match(cfg, /option httpchk GET \/health/);
      assert.match(cfg, /stats auth "admin:secret"/);
      assert.match(cfg, /maxconn "400"/);
    }
    // The reference itself, with HAProxy expanding the variables from its environment.
    const ref = await checkHaproxyConfig(HAPROXY_TEMPLATE, { STATS_PASSWORD: 'secret' });
    assert.equal(ref.code, 0, ref.output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** `cmd args` in bash with soft and hard descriptor limits lowered to `nofile`. */
const underLimit = (nofile: number, cmd: string[]): string[] => [
  '-c',
  `ulimit -n ${nofile} && exec "$@"`,
  'bash',
  ...cmd,
];

test('HAProxy sized for its descriptor limit starts under it; one user more is refused naming the numbers', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-haproxy-fd-'));
  const nofile = 3000;
  // 4 WebSockets + 4 requests per user, as the deploy script's defaults.
  const users = Math.floor(maxConnectionsFor(nofile, 2) / 8);
  const [http, stats] = await Promise.all([consecutiveFreePorts(1), consecutiveFreePorts(1)]);
  const env = {
    ...process.env,
    DATA_DIR: dir,
    API_BASE_PORT: '9201',
    HTTP_ADDR: '127.0.0.1',
    HTTP_PORT: String(http[0]),
    STATS_PORT: String(stats[0]),
    STATS_PASSWORD: 'secret',
  };
  const render = (n: number, limit: number) =>
    execFileAsync('bash', underLimit(limit, ['bash', DEPLOY_SCRIPT, 'config', '2', String(n)]), { env });
  const start = async (file: string): Promise<{ up: boolean; output: string }> => {
    const child = spawn('bash', underLimit(nofile, ['haproxy', '-db', '-f', file]), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b));
    child.stderr.on('data', (b: Buffer) => (output += b));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        if (child.exitCode !== null) return { up: false, output };
        const res = await fetch(`http://127.0.0.1:${stats[0]}/stats`, {
          headers: { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` },
        }).catch(() => undefined);
        if (res?.status === 200) return { up: true, output };
        await new Promise((r) => setTimeout(r, 50));
      }
      return { up: false, output };
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  };
  try {
    // 1. The most users that fit: the rendered config starts under exactly that limit.
    const fits = path.join(dir, 'fits.cfg');
    await writeFile(fits, (await render(users, nofile)).stdout);
    const ok = await start(fits);
    assert.ok(ok.up, ok.output);

    // 2. One user more is refused by the renderer, naming what it needs and what it has.
    const refused = await render(users + 1, nofile).then(
      () => assert.fail('rendered a config that cannot fit'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(refused.code, 2);
    const need = 2 * ((users + 1) * 8 + 32) + 68;
    assert.match(
      refused.stderr,
      new RegExp(
        `needs ${need} file descriptors for ${(users + 1) * 8} client connections .* may open only ${nofile}`,
      ),
    );

    // 3. The limit is real: HAProxy 2.6 itself wants 2 x maxconn + 20 here (18 + one per checked
    //    server), so the first user count past that, rendered under a higher limit, does not start
    //    under this one.
    const overHaproxy = Math.ceil(((nofile - 20) / 2 - 32 + 1) / 8);
    const tooBig = path.join(dir, 'too-big.cfg');
    await writeFile(tooBig, (await render(overHaproxy, 2 * nofile)).stdout);
    const failed = await start(tooBig);
    assert.equal(failed.up, false);
    assert.match(failed.output, /Cannot raise FD limit/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('`local 2 50` runs the whole service behind HAProxy, and `stop` ends exactly what it started', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-deploy-'));
  const [http, stats, redis] = await Promise.all([1, 1, 1].map(() => consecutiveFreePorts(1)));
  const apiPorts = await consecutiveFreePorts(2);
  const plans = writePlans(dataDir);
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    HTTP_ADDR: '127.0.0.1',
    HTTP_PORT: String(http[0]),
    STATS_PORT: String(stats[0]),
    REDIS_PORT: String(redis[0]),
    API_BASE_PORT: String(apiPorts[0]),
    DRAIN_MS: '300',
    LOG_LEVEL: 'warn',
    PLANS_FILE: plans,
  };
  const run = path.join(dataDir, 'run');
  let pids: number[] = [];
  try {
    // 1. Start: it prints the URLs and leaves a pid file per process.
    const started = await deploy(['local', '2', '50'], env);
    assert.equal(started.code, 0, `${started.stdout}\n${started.stderr}`);
    const base = `http://127.0.0.1:${http[0]}`;
    assert.match(started.stdout, new RegExp(`app: +http://127\\.0\\.0\\.1:${http[0]}/`));
    assert.match(started.stdout, new RegExp(`stats page: +http://127\\.0\\.0\\.1:${stats[0]}/stats`));
    const pidFiles = (await readdir(run)).filter((f) => f.endsWith('.pid')).sort();
    assert.deepEqual(pidFiles, [
      'local-api-1.pid',
      'local-api-2.pid',
      'local-haproxy.pid',
      'local-redis.pid',
      'local-worker-1.pid',
    ]);
    pids = await Promise.all(pidFiles.map(async (f) => Number(await readFile(path.join(run, f), 'utf8'))));
    assert.ok(pids.every(isAlive));
    assert.equal((await checkHaproxyConfig(path.join(run, 'local-haproxy.cfg'))).code, 0);
    // Its Redis needs the password, kept in DATA_DIR with mode 0600 and on no command line.
    assert.match(await rawRedis(redis[0], 'PING'), /^-NOAUTH/);
    const redisPassword = (await readFile(path.join(dataDir, 'redis-password'), 'utf8')).trim();
    assert.equal((await stat(path.join(dataDir, 'redis-password'))).mode & 0o777, 0o600);
    assert.ok(redisPassword.length >= 32);
    assert.equal(await rawRedis(redis[0], `AUTH ${redisPassword}`), '+OK');
    assert.deepEqual(processesMatching(redisPassword), [], 'the password is on a command line');
    // A second start refuses while the first runs.
    assert.equal((await deploy(['local', '2', '50'], env)).code, 1);

    // 2. A conversion through HAProxy, watched over the WebSocket.
    const client = await ApiClient.anonymous(base);
    const live = new LiveEvents({ baseUrl: base, token: client.session?.token ?? '' });
    await live.waitForStart();
    const up = await client.upload(espeakSentence('en-us+f3'));
    assert.equal(up.status, 201);
    const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3' });
    await live.waitUntil(() => live.jobs.get(job.id)?.state === 'completed', 60_000, 'completion');
    live.close();
    assert.equal((await client.download(job.id)).status, 200);

    // 3. The stats page, with the generated password.
    const password = (await readFile(path.join(run, 'local-stats-password'), 'utf8')).trim();
    const auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
    const statsUrl = `http://127.0.0.1:${stats[0]}/stats`;
    assert.equal((await fetch(statsUrl)).status, 401);
    assert.equal((await fetch(statsUrl, { headers: { authorization: auth } })).status, 200);

    // 4. Stop: every process it started is gone, and so are the pid files.
    const stopped = await deploy(['stop'], env);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(pids.filter(isAlive), []);
    assert.deepEqual(
      (await readdir(run)).filter((f) => f.endsWith('.pid')),
      [],
    );
    await assert.rejects(fetch(`${base}/health`));
  } finally {
    await deploy(['stop'], env);
    for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
