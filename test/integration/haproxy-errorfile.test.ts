import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { DEPLOY_SCRIPT, HAPROXY_TEMPLATE } from '../helpers/haproxy.js';
import { freePort } from '../helpers/ports.js';
import { startProcess } from '../helpers/processes.js';

// HAProxy's own answer when a request does not arrive within `timeout http-request` (with
// `option http-buffer-request`: its head and the start of its body, the slow-upload case): a 400
// in the API's error format (VC_ERR_REQUEST_TIMEOUT), never HAProxy's 408, which browsers on a
// reused connection and `curl --retry` send again. (A head itself still incomplete at the timeout
// is answered by HAProxy 2.6's H1 layer before any errorfile applies: its built-in 408 stays.) Checked on the real haproxy with the config
// each tier ships, laid out as that tier lays it out: the template as it stands, the local
// tier's rendered config, and the files the systemd and docker tiers would write.
const execFileAsync = promisify(execFile);
const TIMEOUT_ENV = { HTTP_REQUEST_TIMEOUT: '500ms' };
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-errfile-'));
  dirs.push(d);
  return d;
}

async function deployScript(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileAsync('bash', [DEPLOY_SCRIPT, ...args], {
    env: { ...process.env, ...TIMEOUT_ENV, ...env },
    timeout: 60_000,
    maxBuffer: 16 << 20,
  });
  return stdout;
}

/** The files a --dry-run prints (`### <path>` then the file as it is), by path. */
function dryRunFiles(out: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const part of out.split('\n### ').slice(1)) {
    const nl = part.indexOf('\n');
    // The split takes the newline of the `echo` before each header: the rest is the file.
    files.set(part.slice(0, nl), part.slice(nl + 1));
  }
  return files;
}

/** The config with its two frontends bound to free loopback ports (public first, then stats). */
async function onFreePorts(cfg: string): Promise<{ cfg: string; port: number }> {
  const ports = [await freePort(), await freePort()];
  let i = 0;
  const out = cfg.replace(/^(\s*bind )"[^"]*"/gm, (_m, head: string) => `${head}"127.0.0.1:${ports[i++]}"`);
  assert.equal(i, 2, 'two frontends, each with one bind');
  return { cfg: out, port: ports[0] };
}

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** Sends a request head and the start of its body, and waits for HAProxy's answer and its close. */
function stalledBody(port: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const giveUp = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close after 10 s; got ${JSON.stringify(text)}`));
    }, 10_000);
    s.on('data', (d) => {
      text += d.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(giveUp);
      resolve({ text, ms: Date.now() - started });
    });
    s.on('error', () => {});
    s.write('POST /api/uploads HTTP/1.1\r\nHost: vcfarm\r\nContent-Length: 100000\r\n\r\n--preamble');
  });
}

/** Starts haproxy on `file` (with `env`), trickles a head at it, checks the answer, stops it. */
async function expectJson400(file: string, port: number, env: Record<string, string>, cwd?: string) {
  const check = await execFileAsync('haproxy', ['-c', '-f', file], {
    env: { ...process.env, ...env },
    cwd,
  }).then(
    () => '',
    (e: { stderr?: string }) => e.stderr ?? 'invalid',
  );
  assert.equal(check, '', `haproxy -c ${file}`);
  const h = await startProcess('haproxy', ['-db', '-f', file], {
    env,
    graceMs: 0,
    readyTimeoutMs: 10_000,
    ready: () => connects(port),
  });
  try {
    const r = await stalledBody(port);
    const [head, body] = r.text.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/, r.text);
    assert.match(head, /\r\ncontent-type: application\/json; charset=utf-8(\r\n|$)/i);
    assert.deepEqual(JSON.parse(body), {
      error: 'VC_ERR_REQUEST_TIMEOUT',
      message: 'the request did not arrive in time and was cut off; try again on a faster connection',
    });
    // Answered by `timeout http-request` (500 ms here), and the connection closed.
    assert.ok(r.ms >= 400 && r.ms < 5000, `answered after ${r.ms} ms`);
  } finally {
    await h.stop();
  }
}

test('the template as it stands answers a stalled upload 400 VC_ERR_REQUEST_TIMEOUT, from any working directory', async () => {
  const dir = await tempDir();
  const [http, stats] = [await freePort(), await freePort()];
  const env = {
    ...TIMEOUT_ENV,
    HTTP_ADDR: '127.0.0.1',
    HTTP_PORT: String(http),
    STATS_PORT: String(stats),
    STATS_PASSWORD: 'pw',
  };
  await expectJson400(HAPROXY_TEMPLATE, http, env, dir);
});

test('local tier: the rendered config answers a stalled upload 400 VC_ERR_REQUEST_TIMEOUT', async () => {
  const dir = await tempDir();
  const rendered = await deployScript(['config', '1', '10'], { DATA_DIR: dir, STATS_PASSWORD: 'pw' });
  const { cfg, port } = await onFreePorts(rendered);
  const file = path.join(dir, 'run', 'local-haproxy.cfg');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, cfg);
  await expectJson400(file, port, {});
});

test('systemd tier: /etc/vcfarm/haproxy.cfg with haproxy-408.http beside it answers 400 VC_ERR_REQUEST_TIMEOUT', async () => {
  const dir = await tempDir();
  const root = path.join(dir, 'root');
  const files = dryRunFiles(await deployScript(['systemd', 'small', '--root', root, '--dry-run'], {}));
  const etc = path.join(dir, 'etc', 'vcfarm');
  await mkdir(etc, { recursive: true });
  const cfg = files.get(`${root}/etc/vcfarm/haproxy.cfg`);
  const errorfile = files.get(`${root}/etc/vcfarm/haproxy-408.http`);
  assert.ok(cfg && errorfile, `the tier writes both: ${[...files.keys()].join(', ')}`);
  const placed = await onFreePorts(cfg);
  await writeFile(path.join(etc, 'haproxy.cfg'), placed.cfg);
  await writeFile(path.join(etc, 'haproxy-408.http'), errorfile);
  await expectJson400(path.join(etc, 'haproxy.cfg'), placed.port, { STATS_PASSWORD: 'pw' });
});

test('docker tier: haproxy.cfg with haproxy-408.http beside it (both mounted) answers 400 VC_ERR_REQUEST_TIMEOUT', async () => {
  const dir = await tempDir();
  const deployDir = path.join(dir, 'deploy');
  const files = dryRunFiles(
    await deployScript(['docker', 'small', '--dry-run'], { VCFARM_DEPLOY_DIR: deployDir }),
  );
  const cfg = files.get(`${deployDir}/haproxy.cfg`);
  const errorfile = files.get(`${deployDir}/haproxy-408.http`);
  assert.ok(cfg && errorfile, `the tier writes both: ${[...files.keys()].join(', ')}`);
  const etc = path.join(dir, 'etc', 'vcfarm');
  await mkdir(etc, { recursive: true });
  const placed = await onFreePorts(cfg);
  await writeFile(path.join(etc, 'haproxy.cfg'), placed.cfg);
  await writeFile(path.join(etc, 'haproxy-408.http'), errorfile);
  await expectJson400(path.join(etc, 'haproxy.cfg'), placed.port, { STATS_PASSWORD: 'pw' });
  // The compose file mounts the pair into the container, where the config expects them.
  const compose = await readFile(
    path.join(path.dirname(DEPLOY_SCRIPT), '../docker-compose.production.yml'),
    'utf8',
  );
  for (const f of ['haproxy.cfg', 'haproxy-408.http'])
    assert.ok(compose.includes(`/${f}:/etc/vcfarm/${f}:ro`), `compose mounts ${f}`);
});
