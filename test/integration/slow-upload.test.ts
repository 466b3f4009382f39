import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { launchChromium, pageWithToken } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { rateCount } from '../helpers/redis.js';
import { CLI, startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// An upload cut off as too slow (UPLOAD_MIN_BYTES_PER_SEC) is answered with a status browsers do
// not send again: Chromium resends a request answered 408 on a reused keep-alive connection
// (HttpNetworkTransaction), so one click on a slow uplink became several uploads, each cut off.

const MIN_RATE = 32 * 1024;
let svc: TestService;
let browser: Browser;
let redis: Redis;
/** Every POST /api/uploads the server parsed, with whether its connection had carried a request before. */
const posts: { reused: boolean }[] = [];

before(async () => {
  svc = await startService({ workers: 0, env: { UPLOAD_MIN_BYTES_PER_SEC: String(MIN_RATE) } });
  redis = new Redis(svc.redis.url);
  const served = new WeakMap<Socket, number>();
  svc.app.server.on('request', (req: IncomingMessage) => {
    const before = served.get(req.socket) ?? 0;
    served.set(req.socket, before + 1);
    if (req.method === 'POST' && req.url === '/api/uploads') posts.push({ reused: before > 0 });
  });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  redis?.disconnect();
  await svc?.close();
});

test('Chromium on an uplink below UPLOAD_MIN_BYTES_PER_SEC: one click is one POST, and the page says why it was cut off', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  // 1. The page has loaded over keep-alive connections it will reuse for the upload.
  await page.locator('#limits').waitFor();
  // 2. The uplink is throttled to a quarter of the minimum rate (DevTools' own throttling).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: MIN_RATE / 4,
  });
  // 3. Five seconds of 48 kHz audio (480 KB): about a minute at that rate, cut off after 5 s.
  const file = tinyWav(5, 48_000);
  await page.setInputFiles('#file', file);
  await page.click('#submit');
  const status = page.locator('#status.error', { hasText: 'slower than' });
  await status.waitFor({ timeout: 60_000 });
  const text = (await status.textContent()) ?? '';
  // 4. One POST reached the server (Chromium resends before the page hears any answer, so by
  //    now every resend has happened), and it came on a reused connection: the case that resent.
  assert.equal(posts.length, 1, `the server saw ${posts.length} POSTs for one click`);
  assert.ok(posts[0]?.reused, 'the upload went on a fresh connection; the test did not cover a reused one');
  // 5. The message says what happened and what to do, in words, with no path.
  assert.match(
    text,
    /^the upload arrived slower than 32 KB\/s, the least this service accepts, and was cut off/,
  );
  assert.doesNotMatch(text, /(^|\s)\/\w|HTTP \d/);
  // 6. Nothing was kept or counted: no upload in the workspace, no upload spent.
  assert.equal(await rateCount(redis, user.session?.userId ?? '', 'uploads'), 0);
  const ws = await user.request('GET', '/api/workspace');
  assert.equal(ws.body.usage.files, 0, JSON.stringify(ws.body.usage));
  await page.context().close();
});

/**
 * A TCP proxy to the API that passes what clients send at `bytesPerSec` (a slow uplink) and
 * what the API answers at full speed.
 */
async function slowUplink(bytesPerSec: number): Promise<{ url: string; close(): void }> {
  const target = new URL(svc.baseUrl);
  const sockets = new Set<Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    // Sent on in slices every 100 ms, so the rate holds over any window the server measures.
    const slice = Math.max(1, Math.floor(bytesPerSec / 10));
    let held = Buffer.alloc(0);
    const timer = setInterval(() => {
      if (held.length === 0) return client.resume();
      upstream.write(held.subarray(0, slice));
      held = held.subarray(slice);
    }, 100);
    client.on('close', () => clearInterval(timer));
    client.on('data', (b: Buffer) => {
      held = Buffer.concat([held, b]);
      if (held.length > 4 * slice) client.pause();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test('vcfarm convert on an uplink below UPLOAD_MIN_BYTES_PER_SEC: one POST, exit 1 with the reason', async () => {
  const proxy = await slowUplink(MIN_RATE / 4);
  const home = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-slow-cli-'));
  const seen = posts.length;
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [CLI, 'convert', tinyWav(5, 48_000), '--format', 'wav', '--out', home],
        { env: { ...process.env, VCFARM_URL: proxy.url, XDG_CONFIG_HOME: home }, timeout: 90_000 },
        (err, _out, stderr) => resolve({ code: child.exitCode ?? (err ? 1 : 0), stderr }),
      );
    });
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /the upload arrived slower than 32 KB\/s, the least this service accepts, and was cut off/,
    );
    assert.equal(posts.length - seen, 1, `the server saw ${posts.length - seen} POSTs for one file`);
  } finally {
    proxy.close();
  }
});
