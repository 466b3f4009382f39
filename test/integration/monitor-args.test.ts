import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

// QA s17, defect 8: `monitor_multiuser.sh --help` (or any interval that is not a number) looped
// without sleeping and flooded the admin API. Arguments are checked before any request; a listener
// counts what reaches it.

const MONITOR = fileURLToPath(new URL('../../../scripts/monitor_multiuser.sh', import.meta.url));
let server: Server;
let url: string;
let requests = 0;

before(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.writeHead(503).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

function monitor(
  args: string[],
  timeoutMs = 10_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [MONITOR, ...args],
      { env: { ...process.env, VCFARM_URL: url, ADMIN_TOKEN: 'x', TERM: 'dumb' }, timeout: timeoutMs },
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
