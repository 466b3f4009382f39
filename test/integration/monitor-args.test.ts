import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { freePort } from '../helpers/ports.js';
import { startService, type TestService } from '../helpers/service.js';

// QA s17, defect 8: `monitor_multiuser.sh --help` (or any interval that is not a number) looped
// without sleeping and flooded the admin API. Arguments are checked before any request; a listener
// counts what reaches it.

const MONITOR = fileURLToPath(new URL('../../../scripts/monitor_multiuser.sh', import.meta.url));
let server: Server;
let url: string;
let requests = 0;
let svc: TestService;

before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  server = createServer((_req, res) => {
    requests++;
    res.writeHead(503).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await svc?.close();
  await new Promise<void>((r) => server.close(() => r()));
});

function monitor(
  args: string[],
  timeoutMs = 10_000,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [MONITOR, ...args],
      {
        env: { ...process.env, VCFARM_URL: url, ADMIN_TOKEN: 'x', TERM: 'dumb', ...env },
        timeout: timeoutMs,
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

test('--help prints the usage and asks the service nothing', async () => {
  requests = 0;
  const r = await monitor(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: scripts\/monitor_multiuser\.sh \[interval-seconds\]/);
  assert.match(r.stdout, /ADMIN_TOKEN/);
  assert.equal(requests, 0);
});

test('an interval that is not a number of seconds ≥ 1 is refused (exit 2) before any request', async () => {
  requests = 0;
  for (const bad of ['abc', '--helps', '0', '-5', '0.5', '3s', '']) {
    const r = await monitor([bad]);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /the interval must be a number of seconds, at least 1/, bad);
  }
  const two = await monitor(['1', '2']);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /^usage:/);
  assert.equal(requests, 0);
});

test('a valid interval refreshes at that pace', async () => {
  requests = 0;
  // Killed after 2.5 s: with a 1 s interval that is 3 refreshes at most (one request each, since
  // the first answer is an error).
  const r = await monitor(['1'], 2500);
  assert.equal(r.code, null);
  assert.ok(requests >= 2 && requests <= 4, `${requests} requests in 2.5 s`);
});

// QA s18: a wrong ADMIN_TOKEN printed "cannot reach ..." and curl's raw "(22) ... 401", and every
// failure exited 0. Against a real service: each failure is told in words, with its own status.
test('MONITOR_ONCE=1: one view and 0 with the admin token; 3 "admin token refused" with a wrong one; 4 when nothing answers; 5 on an error answer', async () => {
  const once = (env: Record<string, string>) => monitor([], 20_000, { MONITOR_ONCE: '1', ...env });
  // 1. The right token: the view, exit 0.
  const ok = await once({ VCFARM_URL: svc.baseUrl, ADMIN_TOKEN });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^vcfarm at /);
  assert.match(ok.stdout, /WORKERS 0 {3}threads 0/);
  assert.match(ok.stdout, /QUEUE {3}waiting 0/);
  // 2. A wrong token: refused, said so, no curl wording, exit 3 (and the loop does not go on either).
  const refused = await once({ VCFARM_URL: svc.baseUrl, ADMIN_TOKEN: 'wrong' });
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /admin token refused by http:\/\/127\.0\.0\.1:\d+ \(HTTP 401\)/);
  assert.doesNotMatch(refused.stderr + refused.stdout, /cannot reach|curl|\(22\)/);
  assert.equal(refused.stdout, '');
  const looping = await monitor(['1'], 10_000, { VCFARM_URL: svc.baseUrl, ADMIN_TOKEN: 'wrong' });
  assert.equal(looping.code, 3, 'a refused token ends the refreshing view too');
  // 3. Nothing listening: unreachable, exit 4.
  const down = await once({ VCFARM_URL: `http://127.0.0.1:${await freePort()}` });
  assert.equal(down.code, 4, down.stderr);
  assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+/);
  assert.doesNotMatch(down.stderr, /curl|\(7\)/);
  // 4. An error answer (the listener answers 503): exit 5, with the status.
  const busy = await once({});
  assert.equal(busy.code, 5, busy.stderr);
  assert.match(busy.stderr, /answered HTTP 503 to \/api\/system\/stats/);
});

// QA s27: with the service started as `PORT=18080 DATA_DIR=... npm start`, the monitor in the same
// shell found the admin token in DATA_DIR but asked localhost:8080 ("cannot reach", exit 4).
test('without VCFARM_URL the monitor asks 127.0.0.1:$PORT, as `vcfarm users` does, with the token from DATA_DIR', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'monitor-data-'));
  try {
    await writeFile(path.join(dataDir, 'admin-token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
    const { VCFARM_URL: _url, ADMIN_TOKEN: _token, ADMIN_TOKEN_FILE: _file, ...env } = process.env;
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'bash',
        [MONITOR],
        {
          env: {
            ...env,
            PORT: new URL(svc.baseUrl).port,
            DATA_DIR: dataDir,
            MONITOR_ONCE: '1',
            TERM: 'dumb',
          },
          timeout: 20_000,
        },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: number }).code ?? null) : 0;
          resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
        },
      );
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^vcfarm at http://127\\.0\\.0\\.1:${new URL(svc.baseUrl).port} `));
    assert.match(r.stdout, /WORKERS 0 {3}threads 0/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
