import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { ApiClient, type Json } from '../helpers/client.js';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import { humanSpeech, silenceFlac } from '../helpers/fixtures.js';
import { generousPlans } from '../helpers/plans.js';
import { processesMatching, waitUntil } from '../helpers/processes.js';
import { HEALTH_REQUEST, multipartBody, multipartPost, onOneConnection } from '../helpers/raw-http.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Issue 11, items 11-15, on real processes: `vcfarm api` (its real logger), a worker, Redis and
// HAProxy in front. The API trusts 127.0.0.1 as a proxy, so direct requests can pose as distinct
// client addresses with X-Forwarded-For; through HAProxy every client is 127.0.0.1.
const ADMIN_TOKEN = 'security-admin-token-0123456789abcdef0123';
const API_LIMIT = 6;
const ANON_UPGRADES = 10;
const ADMIN_FAILURES = 5;
const UPLOAD_MAX_BYTES = 3_000_000;
let cluster: Cluster;
let api: string;
let proxy: string;
let wav: Buffer;
/** A new client address per use, so limits counted per IP start afresh. */
let nextIp = 1;
const freshIp = () => `10.11.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`;

before(async () => {
  const plans = generousPlans();
  plans.plans.free.rateLimits.api = { max: API_LIMIT, windowSec: 60 };
  for (const p of Object.values(plans.plans)) p.quotas.maxDurationSec = 120;
  const plansFile = path.join(os.tmpdir(), `vcfarm-sec-plans-${process.pid}.json`);
  await writeFile(plansFile, JSON.stringify(plans));
  cluster = await startCluster({
    instances: 1,
    env: {
      PLANS_FILE: plansFile,
      ADMIN_TOKEN,
      TRUSTED_PROXIES: '127.0.0.1',
      REQUEST_TIMEOUT_MS: '4000',
      UPLOADS_PER_USER: '2',
      WS_ANONYMOUS_UPGRADES_PER_MIN: String(ANON_UPGRADES),
      ADMIN_FAILURES_PER_IP: String(ADMIN_FAILURES),
      DECODE_CHECKS_MAX: '1',
      UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES),
    },
    // `info`: one log line per request, for the signed-link test.
    haproxyEnv: {
      HTTP_REQUEST_TIMEOUT: '1500ms',
      UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES),
      HAPROXY_LOG_LEVEL: 'info',
    },
  });
  api = cluster.apis[0].url;
  proxy = cluster.haproxy.url;
  wav = await readFile(tinyWav(1, 8000));
});
after(async () => {
  await cluster?.close();
  await rm(path.join(os.tmpdir(), `vcfarm-sec-plans-${process.pid}.json`), { force: true });
});

/** A session for a user at `ip` (direct to the API). */
async function userAt(ip = freshIp()): Promise<ApiClient & { ip: string }> {
  const res = await fetch(`${api}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': ip } });
  assert.equal(res.status, 201);
  return Object.assign(new ApiClient(api, (await res.json()) as { token: string; userId: string }), { ip });
}

/** A user of the `pro` plan (no tight limits) from the admin API, for tests not about limits. */
async function proUser(): Promise<ApiClient> {
  const res = await fetch(`${api}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `pro${nextIp++}`, plan: 'pro' }),
  });
  assert.equal(res.status, 201);
  const body = (await res.json()) as Json;
  return new ApiClient(api, { token: body.apiKey, userId: body.user.id });
}

/** Every log line the API process printed, as text. */
const apiLogText = () => cluster.apis[0].logs.map((l) => JSON.stringify(l)).join('\n');

interface RawResult {
  status: number;
  body: string;
  /** ms from the first byte sent until the server closed the connection (or we gave up). */
  closedAfterMs: number;
  closed: boolean;
}

/**
 * One HTTP/1.1 request on a raw socket: `head` at once, then `body` a few bytes every
 * `trickleMs` (all at once when 0). Resolves when the server closes or after `giveUpMs`.
 */
function rawRequest(
  base: string,
  head: string,
  body: Buffer,
  opts: { trickleMs?: number; giveUpMs?: number } = {},
): Promise<RawResult> {
  const { port } = new URL(base);
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect(Number(port), '127.0.0.1');
    let out = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    let sent = 0;
    const finish = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      sock.destroy();
      const text = out.toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({
        status,
        body: text.split('\r\n\r\n').slice(1).join('\r\n\r\n'),
        closedAfterMs: Date.now() - started,
        closed,
      });
    };
    const giveUp = setTimeout(() => finish(false), opts.giveUpMs ?? 15_000);
    sock.on('data', (b: Buffer) => {
      out = Buffer.concat([out, b]);
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => {});
    sock.once('connect', () => {
      sock.write(head);
      if (!opts.trickleMs) {
        sock.write(body);
        return;
      }
      timer = setInterval(() => {
        if (sent < body.length) sock.write(body.subarray(sent, sent + 1));
        sent++;
      }, opts.trickleMs);
    });
  });
}

function postHead(
  url: string,
  token: string,
  length: number,
  contentType = 'multipart/form-data; boundary=vcfarmBoundary',
  extra = '',
): string {
  return `POST ${url} HTTP/1.1\r\nHost: vcfarm\r\nAuthorization: Bearer ${token}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n${extra}\r\n`;
}

/** Opens a WebSocket to /api/ws and resolves with its first message, close code or refusal status. */
function wsOutcome(
  base: string,
  opts: { ip?: string; token?: string; query?: string; firstMessage?: unknown },
): Promise<{ opened: boolean; status?: number; message?: Json; closeCode?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/ws${opts.query ?? ''}`, {
      headers: opts.ip ? { 'x-forwarded-for': opts.ip } : {},
    });
    let opened = false;
    let message: Json;
    ws.once('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode });
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      opened = true;
      if (opts.firstMessage !== undefined) ws.send(JSON.stringify(opts.firstMessage));
      else ws.close();
    });
    ws.once('message', (raw) => {
      message = JSON.parse(String(raw));
      if (message.type !== 'error') ws.close();
    });
    ws.once('close', (code) => resolve({ opened, message, closeCode: code }));
    ws.once('error', () => {});
  });
}

test('11: tokens never reach the logs: ?token= on /api/ws is redacted, session tokens and API keys alike', async () => {
  const user = await userAt();
  const created = await fetch(`${api}/api/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'logcheck', plan: 'free' }),
  });
  assert.equal(created.status, 201);
  const apiKey = ((await created.json()) as Json).apiKey as string;
  assert.match(apiKey, /^vck_/);
  for (const token of [user.session?.token ?? '', apiKey]) {
    const r = await wsOutcome(api, {
      ip: freshIp(),
      query: `?token=${encodeURIComponent(token)}&lastEventId=1-0`,
    });
    // Accepted (a bad token is refused with 401 before the upgrade).
    assert.equal(r.opened, true, `refused: ${r.status}`);
  }
  // A refused token is logged just as little.
  const bogus = 'vck_bogus0123456789abcdefghijklmnopqrstuvwxyz';
  assert.equal((await wsOutcome(api, { ip: freshIp(), query: `?token=${bogus}` })).status, 401);
  await waitUntil(
    () => cluster.apis[0].logs.filter((l) => JSON.stringify(l).includes('[redacted]')).length >= 3,
    5000,
    'the request log lines',
  );
  const logs = apiLogText();
  for (const secret of [user.session?.token ?? '', apiKey, bogus])
    assert.ok(!logs.includes(secret), `a token is in the logs: ${secret.slice(0, 8)}…`);
  assert.ok(logs.includes('/api/ws?token=[redacted]&lastEventId=1-0'), 'the rest of the URL is kept');
});

test("11: signed links never reach the logs: every `sig` is redacted in the API's and HAProxy's request lines", async () => {
  const user = await proUser();
  const token = user.session?.token ?? '';
  // 1. One link of each signed kind: a result, an upload's original, a preset's preview.
  const up = await user.uploadBytes(wav, 'signed.wav');
  assert.equal(up.status, 201);
  const uploadId = up.body.upload.id as string;
  const job = await user.createJob({ uploadId, outputFormat: 'wav', pitchSemitones: 1 });
  const done = await user.waitForJob(job.id, 60_000);
  assert.equal(done.state, 'completed');
  const audioUrl = (await user.request('GET', `/api/uploads/${uploadId}`)).body.audioUrl as string;
  const presets = (await user.request('GET', '/api/voices')).body.presets as { previewUrl: string | null }[];
  const previewUrl = presets.find((p) => p.previewUrl)?.previewUrl;
  assert.ok(previewUrl, 'a preset with a built preview');
  const links = [done.resultUrl ?? '', audioUrl, previewUrl];
  const sigs = links.map((l) => new URL(l, api).searchParams.get('sig') ?? '');
  for (const [i, sig] of sigs.entries()) assert.match(sig, /^[\w-]{20,}$/, links[i]);
  // 2. Each fetched with no token, straight from an API instance and through HAProxy; and the
  // WebSocket's ?token= through HAProxy.
  for (const base of [api, proxy])
    for (const link of links) {
      const res = await fetch(`${base}${link}`);
      assert.equal(res.status, 200, `${base}${link}`);
      await res.arrayBuffer();
    }
  assert.equal((await wsOutcome(proxy, { query: `?token=${encodeURIComponent(token)}` })).opened, true);
  // 3. Both logs name every route, and hold none of the signatures nor the token.
  const paths = links.map((l) => l.split('?')[0]);
  await waitUntil(
    () => paths.every((p) => apiLogText().includes(p) && cluster.haproxy.output().includes(p)),
    5000,
    'the request log lines',
  );
  await waitUntil(() => cluster.haproxy.output().includes('/api/ws'), 5000, "HAProxy's WebSocket line");
  for (const [name, text] of [
    ['API', apiLogText()],
    ['HAProxy', cluster.haproxy.output()],
  ])
    for (const secret of [...sigs, token])
      assert.ok(!text.includes(secret), `a signature is in the ${name} log: ${secret.slice(0, 8)}…`);
  const result = new URL(done.resultUrl ?? '', api);
  assert.ok(
    apiLogText().includes(`${result.pathname}?exp=${result.searchParams.get('exp')}&sig=[redacted]`),
    'the rest of the URL is kept',
  );
  assert.ok(apiLogText().includes('sig=[redacted]'));
});

test('12: a trickled upload is answered 400 VC_ERR_REQUEST_TIMEOUT (not 408, which browsers send again) and closed after REQUEST_TIMEOUT_MS; two at a time per user', async () => {
  const user = await userAt();
  const body = multipartBody([{ disposition: 'form-data; name="file"; filename="a.wav"', data: wav }]);
  const head = postHead(
    '/api/uploads',
    user.session?.token ?? '',
    body.length,
    undefined,
    `X-Forwarded-For: ${user.ip}\r\n`,
  );
  // 1. Two uploads trickling one byte every 400 ms hold both of this user's slots...
  const trickling = [0, 1].map(() => rawRequest(api, head, body, { trickleMs: 400, giveUpMs: 12_000 }));
  await new Promise((r) => setTimeout(r, 500));
  // 2. ...so a third is refused at once with 429, while another user uploads normally.
  const third = await user.uploadBytes(wav, 'b.wav');
  assert.equal(third.status, 429, JSON.stringify(third.body));
  assert.equal(third.body.error, 'VC_ERR_TOO_MANY_UPLOADS');
  assert.equal((await (await userAt()).uploadBytes(wav, 'c.wav')).status, 201);
  // 3. Both trickling requests are answered 400 and closed within the timeout plus a check interval.
  for (const r of await Promise.all(trickling)) {
    assert.equal(r.closed, true, `still open after ${r.closedAfterMs} ms`);
    assert.equal(r.status, 400, r.body);
    assert.deepEqual(JSON.parse(r.body), {
      error: 'VC_ERR_REQUEST_TIMEOUT',
      message:
        'the request did not arrive in full within 4 s and was cut off; on a slow connection, send a smaller file',
    });
    assert.ok(r.closedAfterMs < 7000, `closed after ${r.closedAfterMs} ms`);
  }
  // 4. The slots are free again.
  assert.equal((await user.uploadBytes(wav, 'd.wav')).status, 201);
});

test('12: upload slots are counted per user across API instances; a killed instance’s slots come back when their leases end', async () => {
  // A second instance on the same Redis, with a short lease and no rate floor (it must hold slots).
  const other = await cluster.startExtraApi({
    REQUEST_TIMEOUT_MS: '120000',
    UPLOAD_MIN_BYTES_PER_SEC: '1',
    UPLOAD_SLOT_LEASE_MS: '2000',
  });
  const user = await proUser();
  const token = user.session?.token ?? '';
  const body = multipartBody([{ disposition: 'form-data; name="file"; filename="a.wav"', data: wav }]);
  const head = postHead('/api/uploads', token, body.length);
  // 1. Two uploads trickle into the other instance: they hold both of the user's slots...
  const trickling = [0, 1].map(() => rawRequest(other.url, head, body, { trickleMs: 400, giveUpMs: 30_000 }));
  await new Promise((r) => setTimeout(r, 1000));
  // 2. ...so this instance refuses a third (each instance counting its own would take it), and
  //    the lease renewals keep them held past the 2 s lease.
  for (let i = 0; i < 2; i++) {
    const third = await user.uploadBytes(wav, 'b.wav');
    assert.equal(third.status, 429, JSON.stringify(third.body));
    assert.equal(third.body.error, 'VC_ERR_TOO_MANY_UPLOADS');
    await new Promise((r) => setTimeout(r, 1500));
  }
  // 3. The other instance dies mid-upload, giving nothing back: its slots end with their leases.
  await other.kill();
  const killedAt = Date.now();
  let status = 0;
  await waitUntil(
    async () => {
      status = (await user.uploadBytes(wav, 'c.wav')).status;
      return status === 201;
    },
    10_000,
    'a free slot after the lease',
  ).catch(() => assert.fail(`still ${status} ${Date.now() - killedAt} ms after the kill`));
  await Promise.all(trickling);
});

test('12: an upload slower than UPLOAD_MIN_BYTES_PER_SEC is cut off with 400 (not 408) long before the request timeout', async () => {
  const slowApi = await cluster.startExtraApi({
    REQUEST_TIMEOUT_MS: '120000',
    UPLOAD_MIN_BYTES_PER_SEC: '2000',
  });
  const user = await proUser();
  const token = user.session?.token ?? '';
  const big = Buffer.concat(Array.from({ length: 8 }, () => wav));
  const body = multipartBody([{ disposition: 'form-data; name="file"; filename="a.wav"', data: big }]);
  const head = postHead('/api/uploads', token, body.length);
  // 1. Trickled from the first byte (the multipart preamble), and 2. stalling inside the file part.
  const fromStart = rawRequest(slowApi.url, head, body, { trickleMs: 100, giveUpMs: 20_000 });
  const midFile = rawRequest(slowApi.url, head, body.subarray(0, 40_000), { giveUpMs: 20_000 });
  for (const r of await Promise.all([fromStart, midFile])) {
    assert.equal(r.closed, true, `still open after ${r.closedAfterMs} ms`);
    assert.equal(r.status, 400, r.body);
    assert.deepEqual(JSON.parse(r.body), {
      error: 'VC_ERR_UPLOAD_TOO_SLOW',
      message:
        'the upload arrived slower than 2 KB/s, the least this service accepts, and was cut off; try again on a faster connection',
    });
    assert.ok(r.closedAfterMs < 15_000, `closed after ${r.closedAfterMs} ms`);
  }
  // 3. Nothing of them stays, and an upload at normal speed works on the same instance.
  const uploads = path.join(cluster.dataDir, 'workspaces', user.session?.userId ?? '', 'uploads');
  assert.deepEqual(await readdir(uploads).catch(() => []), []);
  const ok = await new ApiClient(slowApi.url, user.session).uploadBytes(big, 'ok.wav');
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
});

test('12: through HAProxy a trickled multipart preamble is cut off by `timeout http-request` with 400 VC_ERR_REQUEST_TIMEOUT (its errorfile, not its 408)', async () => {
  const user = await ApiClient.anonymous(proxy);
  const body = multipartBody([{ disposition: 'form-data; name="file"; filename="a.wav"', data: wav }]);
  const r = await rawRequest(proxy, postHead('/api/uploads', user.session?.token ?? '', body.length), body, {
    trickleMs: 300,
    giveUpMs: 10_000,
  });
  assert.equal(r.closed, true);
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).error, 'VC_ERR_REQUEST_TIMEOUT');
  // HAProxy answered (1.5 s), before the API's own 4 s limit.
  assert.ok(r.closedAfterMs < 3500, `closed after ${r.closedAfterMs} ms`);
});

/** A multipart body with one file part (`disposition`), and for /api/voices the `name` it needs. */
function multipartFor(route: string, disposition: string): Buffer {
  const name = { disposition: 'form-data; name="name"', data: Buffer.from('crlf') };
  const file = { disposition, data: wav };
  return multipartBody(route === '/api/voices' ? [name, file] : [file]);
}

test('12: a part whose filename* decodes to CR/LF is refused with 400 on a keep-alive connection, which then serves the next request (direct and through HAProxy)', async () => {
  // The parser (busboy) drops such a part whole; the route then finds no file field and says so.
  // The "never answers" is checked where a client meets it: on a reused connection.
  const user = await proUser();
  const token = user.session?.token ?? '';
  const uploads = path.join(cluster.dataDir, 'workspaces', user.session?.userId ?? '', 'uploads');
  for (const base of [api, proxy]) {
    for (const route of ['/api/uploads', '/api/voices']) {
      for (const d of [
        `form-data; name="file"; filename*=UTF-8''a%0D%0Ab.wav`,
        `form-data; name="file"; filename*=UTF-8''%0D%0A`,
      ]) {
        const body = multipartFor(route, d);
        const [refused, next] = await onOneConnection(
          Number(new URL(base).port),
          [multipartPost(route, token, body), HEALTH_REQUEST],
          8000,
        );
        const what = `${base} ${route} ${d}`;
        assert.match(refused ?? 'no answer', /^HTTP\/1\.1 400 /, what);
        const answer = JSON.parse((refused ?? '').split('\r\n\r\n')[1]);
        assert.equal(answer.error, 'VC_ERR_VALIDATION', what);
        assert.match(answer.message, /control characters/, what);
        assert.match(next ?? 'no answer', /^HTTP\/1\.1 200 /, `${what}: the next request on the connection`);
      }
    }
  }
  // Nothing of them was stored.
  assert.deepEqual(await readdir(uploads).catch(() => []), []);
});

test('12/14: malformed multipart is always answered 400 with a code: CR/LF file names, no boundary, cut short', async () => {
  const user = await proUser();
  const token = user.session?.token ?? '';
  const fwd = 'Connection: close\r\n';
  const logsBefore = cluster.apis[0].logs.length;
  const crlf = [
    `form-data; name="file"; filename*=UTF-8''a%0D%0Ab.wav`,
    `form-data; name="file"; filename*=UTF-8''%0D%0A`,
    `form-data; name*=UTF-8''fi%0D%0Ale; filename="a.wav"`,
  ];
  for (const base of [api, proxy]) {
    for (const route of ['/api/uploads', '/api/voices']) {
      for (const d of crlf) {
        const body = multipartFor(route, d);
        const r = await rawRequest(base, postHead(route, token, body.length, undefined, fwd), body, {
          giveUpMs: 8000,
        });
        assert.equal(r.status, 400, `${base} ${route} ${d}: ${r.status} ${r.body}`);
        assert.equal(JSON.parse(r.body).error, 'VC_ERR_VALIDATION');
      }
      const good = multipartFor(route, 'form-data; name="file"; filename="a.wav"');
      const cases: [string, string, Buffer][] = [
        ['no boundary', postHead(route, token, good.length, 'multipart/form-data', fwd), good],
        [
          'cut short',
          postHead(route, token, good.length - 20, undefined, fwd),
          good.subarray(0, good.length - 20),
        ],
        [
          'bad boundary',
          postHead(route, token, good.length, 'multipart/form-data; boundary=other', fwd),
          good,
        ],
      ];
      for (const [what, head, body] of cases) {
        const r = await rawRequest(base, head, body, { giveUpMs: 8000 });
        assert.equal(r.status, 400, `${base} ${route} ${what}: ${r.status} ${r.body}`);
        assert.equal(JSON.parse(r.body).error, 'VC_ERR_MALFORMED_MULTIPART', `${route} ${what}`);
      }
    }
  }
  // None of them was logged as a server error.
  const errors = cluster.apis[0].logs.slice(logsBefore).filter((l) => Number(l.level) >= 50);
  assert.deepEqual(
    errors.map((l) => l.msg),
    [],
  );
});

test('13: upgrades that authenticate by first message have their own per-IP bucket and count per user after', async () => {
  const ip = freshIp();
  // 1. More unauthenticated upgrades than the anonymous plan's api limit, from one address...
  for (let i = 0; i < API_LIMIT + 2; i++) {
    const r = await wsOutcome(api, { ip });
    assert.equal(r.opened, true, `upgrade ${i + 1}: ${r.status}`);
  }
  // 2. ...leave another user behind that address able to connect and authenticate.
  const user = await userAt(ip);
  const first = await wsOutcome(api, { ip, firstMessage: { type: 'auth', token: user.session?.token } });
  assert.equal(first.message?.type, 'snapshot', JSON.stringify(first));
  assert.equal((await user.request('GET', '/api/jobs')).status, 200, 'its api limit is untouched');
  // 3. The anonymous bucket itself is small and runs out: then the upgrade is 429.
  let refused: number | undefined;
  for (let i = 0; i < ANON_UPGRADES + 1 && refused === undefined; i++) {
    const r = await wsOutcome(api, { ip });
    if (!r.opened) refused = r.status;
  }
  assert.equal(refused, 429);
  // 4. After authentication a socket counts against its user's api limit (1 request used above).
  const other = await userAt();
  const codes: (number | undefined)[] = [];
  for (let i = 0; i < API_LIMIT; i++) {
    const r = await wsOutcome(api, {
      ip: freshIp(),
      firstMessage: { type: 'auth', token: other.session?.token },
    });
    codes.push(r.message?.type === 'snapshot' ? 0 : r.closeCode);
  }
  assert.deepEqual(codes, [0, 0, 0, 0, 0, 0]);
  const over = await wsOutcome(api, {
    ip: freshIp(),
    firstMessage: { type: 'auth', token: other.session?.token },
  });
  assert.equal(over.message?.error, 'VC_ERR_RATE_LIMITED');
  assert.equal(over.closeCode, 4429);
});

test('14: admin token guessing is throttled per address and logged, without the guesses; a typo repeated counts once; a client that used the right token before keeps working', async () => {
  const ip = freshIp();
  const admin = (token: string, from = ip, client = 'guesser/1.0') =>
    fetch(`${api}/api/system/stats`, {
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': from, 'user-agent': client },
    });
  const SCRAPER = 'Prometheus/2.45.0';
  // 1. A scraper on that host uses the right token: it is known to the address from now on.
  assert.equal((await admin(ADMIN_TOKEN, ip, SCRAPER)).status, 200);
  // 2. A typo sent again and again (a dashboard reading its panels, a stale scrape) is one attempt...
  const guesses = Array.from({ length: ADMIN_FAILURES }, (_, i) => `guess-${i}-0123456789abcdef0123456789`);
  for (let i = 0; i < 5; i++) assert.equal((await admin(guesses[0])).status, 401);
  // 3. ...so the address is blocked only by ADMIN_FAILURES different wrong tokens.
  for (const g of guesses.slice(1)) assert.equal((await admin(g)).status, 401);
  // 4. Blocked now, even with the right token, for every client that never used it from there.
  const blocked = await admin(ADMIN_TOKEN);
  assert.equal(blocked.status, 429);
  assert.equal(((await blocked.json()) as Json).error, 'VC_ERR_RATE_LIMITED');
  assert.equal((await admin(ADMIN_TOKEN, ip, 'another/2.0')).status, 429);
  assert.equal((await admin(ADMIN_TOKEN, freshIp())).status, 200);
  // 5. The scraper that used the right token keeps scraping; a wrong token from it (a guesser
  //    posing as it) is refused like any blocked one and ends that, right token included.
  assert.equal((await admin(ADMIN_TOKEN, ip, SCRAPER)).status, 200);
  assert.equal((await admin('guess-as-scraper-0123456789abcdef0123', ip, SCRAPER)).status, 429);
  assert.equal((await admin(ADMIN_TOKEN, ip, SCRAPER)).status, 429);
  // pino writes asynchronously: wait for the lines rather than assume they are in.
  const failed = () =>
    cluster.apis[0].logs.filter((l) => l.msg === 'admin authentication failed: wrong token' && l.ip === ip);
  await waitUntil(() => failed().length >= ADMIN_FAILURES + 4, 5000, 'a warning per failed attempt');
  const logs = apiLogText();
  for (const g of guesses) assert.ok(!logs.includes(g), 'a guessed token is in the logs');
  assert.ok(!logs.includes(ADMIN_TOKEN), 'the admin token is in the logs');
});

test('14: /api answers carry Cache-Control: no-store, errors included', async () => {
  const user = await proUser();
  const up = await user.uploadBytes(wav, 'a.wav');
  assert.equal(up.status, 201);
  const urls = [
    '/api/jobs',
    `/api/uploads/${up.body.upload.id}`,
    '/api/workspace',
    '/api/voices',
    '/api/jobs/nope-nope-nope',
  ];
  for (const url of urls) {
    const res = await user.request('GET', url);
    assert.equal(res.headers.get('cache-control'), 'no-store', url);
  }
  const session = await fetch(`${api}/api/session`, {
    method: 'POST',
    headers: { 'x-forwarded-for': freshIp() },
  });
  assert.equal(session.headers.get('cache-control'), 'no-store');
  assert.equal((await fetch(`${api}/api/jobs`)).headers.get('cache-control'), 'no-store', '401 too');
});

test('14: error answers on every route carry no server path, user id or memory address', async () => {
  const user = await proUser();
  const other = await proUser();
  const theirs = await other.uploadBytes(wav, 'theirs.wav');
  const dataDir = cluster.dataDir;
  const leaks = (text: string) =>
    [dataDir, '/tmp', '/work', 'workspaces', other.session?.userId ?? '', user.session?.userId ?? '']
      .filter((s) => s && text.includes(s))
      .concat(/0x[0-9a-f]{6,}/i.test(text) ? ['a memory address'] : []);
  const id = theirs.body.upload.id as string;
  const calls: [string, string, unknown?][] = [
    ['GET', `/api/uploads/${id}`],
    ['DELETE', `/api/uploads/${id}`],
    ['GET', '/api/uploads/..%2F..%2Fetc%2Fpasswd'],
    ['GET', `/api/jobs/${id}`],
    ['GET', `/api/jobs/${id}/result`],
    ['DELETE', `/api/jobs/${id}`],
    ['DELETE', `/api/jobs/${id}/result`],
    ['GET', `/api/voices/${id}`],
    ['DELETE', `/api/voices/${id}`],
    ['POST', '/api/jobs', { uploadId: id, outputFormat: 'wav' }],
    ['POST', '/api/jobs', { uploadId: id, outputFormat: 'wav', voiceId: 'preset-nobody-here' }],
    ['POST', '/api/jobs', { uploadId: id, outputFormat: 'wav', model: 'no-such-model' }],
    ['POST', '/api/jobs', '{"uploadId": '],
    ['GET', '/api/system/stats'],
    ['POST', '/api/system/scale', { new_worker_count: 2 }],
    ['GET', '/api/admin/users'],
    ['GET', '/api/no/such/route'],
    ['POST', '/api/uploads', 'not multipart'],
  ];
  for (const [method, url, body] of calls) {
    const res = await user.request(method, url, body);
    assert.ok(res.status >= 400 && res.status < 500, `${method} ${url}: ${res.status}`);
    assert.match(res.body.error, /^VC_ERR_[A-Z_]+$/, `${method} ${url}`);
    assert.deepEqual(leaks(JSON.stringify(res.body)), [], `${method} ${url}: ${res.body.message}`);
  }
  // Bad audio, whose probe and decoder talk about the file's path and their own addresses.
  const corrupt = Buffer.concat([wav.subarray(0, 44), Buffer.alloc(4000, 0x7f)]);
  corrupt.write('fLaC', 0);
  for (const bytes of [
    corrupt,
    Buffer.from('#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n'),
    wav.subarray(0, 60),
  ]) {
    for (const res of [
      await user.uploadBytes(bytes, 'x.wav'),
      await user.cloneVoiceBytes(bytes, 'x.wav', 'x'),
    ]) {
      assert.ok(res.status >= 400 && res.status < 500, JSON.stringify(res.body));
      assert.deepEqual(leaks(JSON.stringify(res.body)), [], res.body.message);
    }
  }
});

test("14: a job whose input does not decode fails with a generic message; ffmpeg's words stay in the worker's log", async () => {
  const user = await proUser();
  const up = await user.uploadBytes(wav, 'a.wav');
  assert.equal(up.status, 201);
  // 1. The stored file turns into garbage after its checks (a disk fault, a tampered volume).
  const stored = path.join(
    cluster.dataDir,
    'workspaces',
    user.session?.userId ?? '',
    'uploads',
    up.body.upload.id,
  );
  await writeFile(stored, Buffer.alloc(wav.length, 0x5a));
  // 2. The job fails for good with the code and a message that names nothing of the server.
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  const done = await user.waitForJob(job.id, 60_000);
  assert.equal(done.state, 'failed');
  assert.equal(done.error?.code, 'VC_ERR_UNDECODABLE_AUDIO');
  const message = done.error?.message ?? '';
  assert.doesNotMatch(message, /\/|0x[0-9a-f]{4,}|workspaces|u_[0-9a-f]{8,}/i, message);
  // 3. The worker's log has the details.
  await waitUntil(
    () => cluster.worker.logs.some((l) => l.msg === 'conversion failed' && l.jobId === job.id && l.detail),
    5000,
    "the worker's log line",
  );
});

test('14: upload-time decode checks run at most DECODE_CHECKS_MAX at once', async () => {
  // 100 s of 8-channel 192 kHz silence: a small FLAC that takes a second or more to decode.
  const bytes = await readFile(silenceFlac(100));
  const users = [await proUser(), await proUser()];
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      // The decode check pipes s16le; only this cluster's files count (other tests share the host).
      const checks = processesMatching(`file:${cluster.dataDir}`).filter((p) => p.cmdline.includes('s16le'));
      most = Math.max(most, checks.length);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const results = await Promise.all(
    users.flatMap((u) => [u.uploadBytes(bytes, 'a.wav'), u.uploadBytes(bytes, 'b.wav')]),
  );
  sampling = false;
  await sampler;
  assert.deepEqual(
    results.map((r) => r.status),
    [201, 201, 201, 201],
  );
  assert.equal(most, 1, `${most} decode checks ran at once`);
});

test('15: one body-limit policy through HAProxy: every upload route takes bodies up to UPLOAD_MAX_BYTES', async () => {
  // 1. A 2.1 MB reference recording (12 s, 44.1 kHz stereo), over HAProxy's 1 MiB for JSON routes.
  const file = path.join(cluster.dataDir, 'reference.wav');
  // biome-ignore format: flag/value pairs
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', humanSpeech(2), '-t', '12', '-ar', '44100', '-ac', '2', '-c:a', 'pcm_s16le', file]);
  const big = await readFile(file);
  assert.ok(big.length > 2_000_000 && big.length < UPLOAD_MAX_BYTES);
  const user = await ApiClient.anonymous(proxy);
  const upload = await user.uploadBytes(big, 'big.wav');
  assert.equal(upload.status, 201, JSON.stringify(upload.body));
  const voice = await user.cloneVoiceBytes(big, 'big.wav', 'big voice');
  assert.equal(voice.status, 202, JSON.stringify(voice.body));
  // 2. Over UPLOAD_MAX_BYTES + the multipart margin, both are refused by HAProxy alike, from the
  //    Content-Length, once HAProxy's first buffer of the body is in (http-buffer-request).
  const start = Buffer.alloc(64 * 1024, 0x41);
  for (const route of ['/api/uploads', '/api/voices']) {
    const head = postHead(route, user.session?.token ?? '', UPLOAD_MAX_BYTES + 65_537);
    const res = await rawRequest(proxy, head, start, { giveUpMs: 8000 });
    assert.equal(res.status, 413, route);
    const within = await rawRequest(
      proxy,
      postHead(route, user.session?.token ?? '', UPLOAD_MAX_BYTES),
      Buffer.alloc(0),
      {
        giveUpMs: 2500,
      },
    );
    assert.notEqual(within.status, 413, `${route}: a body within the limit passes HAProxy`);
  }
  // 3. JSON routes keep HAProxy's 1 MiB (the body is not sent: HAProxy decides on its length).
  const jsonHead = `POST /api/jobs HTTP/1.1\r\nHost: vcfarm\r\nAuthorization: Bearer ${user.session?.token}\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\n\r\n`;
  assert.equal((await rawRequest(proxy, jsonHead, start, { giveUpMs: 8000 })).status, 413);
});
