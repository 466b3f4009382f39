import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
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

/**
 * A TCP proxy to the API that passes everything through, except that for the first POST to each of
 * `paths` it drops the connection as soon as the API starts answering: the API did the work, and
 * the client never hears of it (an answer lost on the way).
 */
async function lossyProxy(target: string, paths: string[]) {
  const { hostname, port } = new URL(target);
  const pending = new Set(paths);
  const cut: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    let dropAnswer = false;
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', end);
      s.on('close', () => {
        sockets.delete(s);
        end();
      });
    }
    client.on('data', (chunk: Buffer) => {
      const post = /^POST (\S+) HTTP\/1/.exec(chunk.subarray(0, 300).toString('latin1'));
      if (post?.[1] && pending.delete(post[1])) {
        dropAnswer = true;
        cut.push(post[1]);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropAnswer) end();
      else client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const lostLines = (stderr: string) =>
  stderr.match(
    /vcfarm: the connection broke before an answer \(.+\); sending the same request again in 1 s \(1 of 3\)\n/g,
  ) ?? [];

test('a POST whose answer was lost is sent again with the same Idempotency-Key: one upload, one job, one voice', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const token = client.session?.token ?? '';
  const proxy = await lossyProxy(svc.baseUrl, ['/api/uploads', '/api/jobs', '/api/voices']);
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-out-'));
  try {
    // 1. convert: the upload's answer and the job's answer are each lost once; the CLI sends each
    // again and finishes as if nothing happened.
    const convert = startCli(
      ['convert', tinyWav(2), '--pitch', '2', '--out', out, '--json'],
      token,
      proxy.url,
    );
    assert.equal(await convert.done, 0, convert.stderr);
    assert.deepEqual(proxy.cut, ['/api/uploads', '/api/jobs']);
    assert.equal(lostLines(convert.stderr).length, 2, convert.stderr);
    const [outcome] = JSON.parse(convert.stdout);
    assert.equal(outcome.state, 'completed');
    // The service made one of each: the repeat got the first answer replayed.
    const jobs = (await client.request('GET', '/api/jobs')).body.jobs as { id: string }[];
    assert.deepEqual(
      jobs.map((j) => j.id),
      [outcome.jobId],
    );
    const files = (await client.request('GET', '/api/workspace')).body.files as { kind: string }[];
    assert.equal(files.filter((f) => f.kind === 'upload').length, 1, JSON.stringify(files));

    // 2. voices clone: the voice's answer is lost once; one voice (and one analysis job) is made.
    const clone = startCli(['voices', 'clone', 'Lost Answer', tinyWav(4), '--json'], token, proxy.url);
    assert.equal(await clone.done, 0, clone.stderr);
    assert.deepEqual(proxy.cut, ['/api/uploads', '/api/jobs', '/api/voices']);
    assert.equal(lostLines(clone.stderr).length, 1, clone.stderr);
    const voices = (await client.request('GET', '/api/voices')).body.voices as { id: string; name: string }[];
    assert.deepEqual(
      voices.map((v) => v.name),
      ['Lost Answer'],
    );
    assert.equal(voices[0]?.id, JSON.parse(clone.stdout).voice.id);
  } finally {
    await proxy.close();
    await rm(out, { recursive: true, force: true });
  }
});
