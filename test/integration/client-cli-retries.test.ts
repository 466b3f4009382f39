import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { durationOf } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { CLI, startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// The command-line client when the service refuses or loses what it asked: a WebSocket upgrade
// shed with 503 + Retry-After (an instance at WS_MAX_SOCKETS, here 1), and POSTs whose answers are
// lost and sent again.

let svc: TestService;
let home: string;
before(async () => {
  svc = await startService({ workers: 1, env: { ADMIN_TOKEN, WS_MAX_SOCKETS: '1' } });
  home = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-retries-'));
});
after(async () => {
  await svc?.close();
  await rm(home, { recursive: true, force: true });
});

/** The CLI as a user runs it, with `token` as its API key; `stderr` grows as it writes. */
function startCli(args: string[], token: string, baseUrl = svc.baseUrl) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, VCFARM_URL: baseUrl, VCFARM_API_KEY: token, XDG_CONFIG_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = { stdout: '', stderr: '', done: undefined as unknown as Promise<number | null> };
  child.stdout.on('data', (b: Buffer) => {
    run.stdout += b;
  });
  child.stderr.on('data', (b: Buffer) => {
    run.stderr += b;
  });
  run.done = new Promise((resolve) => child.once('close', resolve));
  return run;
}

/** A socket of this test holding the instance's one WebSocket slot, open once its snapshot came. */
function holdSocket(token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${svc.baseUrl.replace(/^http/, 'ws')}/api/ws?token=${token}`);
    ws.once('message', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.on('error', () => {});
  });
}

/** Snapshots the API has sent so far: one per WebSocket that opened. */
async function snapshotsSent(): Promise<number> {
  const res = await fetch(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const m = /^vcfarm_ws_messages_sent_total\{type="snapshot"\} (\d+)/m.exec(await res.text());
  return Number(m?.[1] ?? 0);
}

const retryLines = (stderr: string) => stderr.match(/retrying the live connection in 2 s \(\d of 3\)/g) ?? [];

test('convert: a WebSocket upgrade shed with 503 + Retry-After is asked again and opens once the instance has room', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const token = client.session?.token ?? '';
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-out-'));
  // 1. This test holds the instance's one socket slot.
  const held = await holdSocket(token);
  const before = await snapshotsSent();
  // 2. The CLI's upgrade is refused: it says it waits (Retry-After: 2)...
  const cli = startCli(['convert', tinyWav(2), '--pitch', '2', '--out', out], token);
  await waitUntil(async () => retryLines(cli.stderr).length > 0, 30_000, 'the CLI waiting for the socket');
  // 3. ...the slot is given back, and the CLI's next upgrade opens a socket (its snapshot is sent).
  await new Promise((resolve) => {
    held.once('close', resolve);
    held.close();
  });
  assert.equal(await cli.done, 0, cli.stderr);
  assert.equal(await snapshotsSent(), before + 1, 'the CLI opened a socket on a retry');
  assert.doesNotMatch(cli.stderr, /no live progress/);
  const [file] = readdirSync(out);
  assert.ok(Math.abs(durationOf(path.join(out, file ?? '')) - 2) < 0.15);
  await rm(out, { recursive: true, force: true });
});

test('convert: an upgrade still shed after 3 retries is told in words and the job is followed over HTTP to the end', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const token = client.session?.token ?? '';
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-out-'));
  const held = await holdSocket(token);
  try {
    const before = await snapshotsSent();
    const cli = startCli(['convert', tinyWav(1), '--out', out], token);
    assert.equal(await cli.done, 0, cli.stderr);
    assert.deepEqual(
      retryLines(cli.stderr).map((l) => l.slice(-8)),
      ['(1 of 3)', '(2 of 3)', '(3 of 3)'],
      cli.stderr,
    );
    assert.match(
      cli.stderr,
      /vcfarm: no live progress: the service refused the WebSocket \(HTTP 503: this instance holds its maximum of 1 WebSockets; retry shortly\) after 3 retries; following the jobs over HTTP every 2 s\n/,
    );
    assert.equal(await snapshotsSent(), before, 'the CLI never had a socket');
    assert.equal(readdirSync(out).length, 1, 'the job was followed to its end and downloaded');
  } finally {
    held.close();
    await rm(out, { recursive: true, force: true });
  }
});
