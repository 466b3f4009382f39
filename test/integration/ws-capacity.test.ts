import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { ApiClient } from '../helpers/client.js';
import { type Cluster, startCluster } from '../helpers/cluster.js';

const CAP = 12;

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ instances: 2, env: { WS_MAX_SOCKETS: String(CAP), LOG_LEVEL: 'warn' } });
});
after(async () => {
  await cluster?.close();
});

const wsUrl = (base: string, token: string) => `${base.replace(/^http/, 'ws')}/api/ws?token=${token}`;

type Outcome =
  | { kind: 'open'; ws: WebSocket; servedBy: string }
  | { kind: 'refused'; status: number; retryAfter: string | undefined; body: unknown };

/** The answer's JSON, or its text when it is not JSON (an answer of HAProxy's own, named in the failure). */
function jsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { notJson: text.slice(0, 300) };
  }
}

/** One upgrade: an open socket (after its snapshot), or the HTTP answer that refused it. */
function upgrade(base: string, token: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(base, token));
    let servedBy = '';
    ws.once('upgrade', (res) => {
      servedBy = String(res.headers['x-served-by'] ?? '');
    });
    ws.once('message', () => resolve({ kind: 'open', ws, servedBy }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b));
      res.on('end', () => {
        ws.terminate();
        resolve({
          kind: 'refused',
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'] as string | undefined,
          body: jsonOr(text),
        });
      });
    });
    ws.on('error', (err) => {
      if (ws.readyState !== WebSocket.CLOSED) reject(err);
    });
  });
}

/** Tokens of `n` users (each user may hold 8 sockets per instance, the cap is for all together). */
async function tokens(base: string, n: number): Promise<string[]> {
  const users = await Promise.all(Array.from({ length: n }, () => ApiClient.anonymous(base)));
  return users.map((u) => u.session?.token ?? '');
}

/**
 * Opens `n` sockets. Sockets a step before dropped free their slots once the server has seen
 * them close, a moment after the client: a refusal is retried for a while (a leaked slot stays
 * refused, and every test ends by checking that exactly CAP fit).
 */
async function fill(base: string, toks: string[], n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < n; i++) {
    let o = await upgrade(base, toks[i % toks.length]);
    while (o.kind === 'refused' && o.status === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      o = await upgrade(base, toks[i % toks.length]);
    }
    assert.equal(
      o.kind,
      'open',
      `socket ${i + 1} of ${n}: ${JSON.stringify(o.kind === 'refused' && o.body)}`,
    );
    if (o.kind === 'open') out.push(o.ws);
  }
  return out;
}

function assertFull(o: Outcome): void {
  assert.equal(o.kind, 'refused');
  if (o.kind !== 'refused') return;
  assert.equal(o.status, 503);
  assert.ok(Number(o.retryAfter) > 0, `Retry-After: ${o.retryAfter}`);
  assert.deepEqual(Object.keys(o.body as object).sort(), ['error', 'message']);
  assert.equal((o.body as { error: string }).error, 'VC_ERR_UNAVAILABLE');
  assert.match((o.body as { message: string }).message, new RegExp(`maximum of ${CAP} WebSockets`));
}

/** Waits until the instance takes exactly CAP sockets again and refuses one more; closes them. */
async function assertExactlyCapFree(base: string, toks: string[]): Promise<void> {
  // The server sees closes a moment after the client: retry the first socket until it fits.
  const deadline = Date.now() + 10_000;
  let first: Outcome;
  for (;;) {
    first = await upgrade(base, toks[0]);
    if (first.kind === 'open' || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(first.kind, 'open', 'a slot is free again after the closes');
  const sockets = first.kind === 'open' ? [first.ws] : [];
  for (let i = 1; i < CAP; i++) {
    const o = await upgrade(base, toks[i % toks.length]);
    // The last of the abrupt closes may still be on its way: wait for it, but never past the cap.
    if (o.kind === 'refused' && Date.now() < deadline) {
      i--;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    assert.equal(o.kind, 'open', `socket ${i + 1} of ${CAP} after the closes`);
    if (o.kind === 'open') sockets.push(o.ws);
  }
  assertFull(await upgrade(base, toks[0]));
  for (const ws of sockets) ws.terminate();
}

test('WS_MAX_SOCKETS: 503 + Retry-After with a JSON code before the upgrade, for any user', async () => {
  const api1 = cluster.apis[0];
  const toks = await tokens(api1.url, 3);
  // 1. CAP sockets of three users fit.
  const sockets = await fill(api1.url, toks, CAP);
  // 2. One more is refused before the upgrade, for a user of the instance and a new one alike,
  //    and an upgrade without a token too.
  assertFull(await upgrade(api1.url, toks[0]));
  const [fresh] = await tokens(api1.url, 1);
  assertFull(await upgrade(api1.url, fresh));
  const anonymous = await upgrade(api1.url, '').catch(() => undefined);
  assert.ok(anonymous?.kind === 'refused' && anonymous.status >= 400);
  // 3. A clean close frees a slot.
  await new Promise((r) => {
    sockets[0].once('close', r);
    sockets[0].close();
  });
  sockets[0] = await fill(api1.url, toks, 1).then((s) => s[0]);
  for (const ws of sockets) ws.terminate();
  await assertExactlyCapFree(api1.url, toks);
});

test('a plain GET /api/ws (no upgrade) is a 400 with a JSON code and holds no socket slot', async () => {
  const api1 = cluster.apis[0];
  const toks = await tokens(api1.url, 3);
  const { port } = new URL(api1.url);
  // 1. CAP keep-alive connections each ask GET /api/ws without an upgrade, and stay open.
  const held: net.Socket[] = [];
  const answers = await Promise.all(
    Array.from(
      { length: CAP },
      (_, i) =>
        new Promise<string>((resolve, reject) => {
          const sock = net.connect(Number(port), '127.0.0.1', () => {
            sock.write(`GET /api/ws?token=${toks[i % toks.length]} HTTP/1.1\r\nHost: vcfarm\r\n\r\n`);
          });
          held.push(sock);
          let text = '';
          sock.on('data', (b: Buffer) => {
            text += b.toString();
            const end = text.indexOf('\r\n\r\n');
            const length = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? -1);
            if (end >= 0 && length >= 0 && text.length >= end + 4 + length) resolve(text);
          });
          sock.on('error', reject);
          sock.on('close', () => resolve(text));
        }),
    ),
  );
  for (const answer of answers) {
    assert.match(answer, /^HTTP\/1\.1 400 /, answer.slice(0, 200));
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error, 'VC_ERR_VALIDATION');
    assert.match(body.message, /WebSocket/);
  }
  // 2. With those connections still open, CAP real sockets fit: the plain GETs took no slot.
  assert.ok(
    held.every((s) => !s.destroyed),
    'the keep-alive connections are still open',
  );
  const sockets = await fill(api1.url, toks, CAP);
  assertFull(await upgrade(api1.url, toks[0]));
  for (const ws of sockets) ws.terminate();
  for (const s of held) s.destroy();
  await assertExactlyCapFree(api1.url, toks);
});

test('abrupt disconnects leak no slot: dropped sockets, upgrades cut off midway, refused upgrades', async () => {
  const api1 = cluster.apis[0];
  const toks = await tokens(api1.url, 3);
  const { port } = new URL(api1.url);
  for (let round = 0; round < 8; round++) {
    // 1. CAP open sockets dropped without a close frame (a vanished peer).
    const sockets = await fill(api1.url, toks, CAP);
    for (const ws of sockets) ws.terminate();
    // 2. Upgrade requests cut off before, during and after the server's answer, and upgrades
    //    with a bad token; in parallel, so they race for the slots.
    await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const token = i % 3 === 0 ? 'not-a-token' : toks[i % toks.length];
            const sock = net.connect(Number(port), '127.0.0.1', () => {
              sock.write(
                `GET /api/ws?token=${token} HTTP/1.1\r\nHost: vcfarm\r\nConnection: Upgrade\r\n` +
                  'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
                  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
              );
              setTimeout(() => sock.destroy(), i % 5);
            });
            sock.on('error', () => {});
            sock.once('close', () => resolve());
          }),
      ),
    );
  }
  // 3. Every slot came back: exactly CAP fit again.
  await assertExactlyCapFree(api1.url, toks);
});

test('through HAProxy, an upgrade refused by an instance at its cap goes to the other one', async () => {
  const [api1] = cluster.apis;
  const toks = await tokens(api1.url, 4);
  // 1. api1 is full, by sockets that did not come through HAProxy (so HAProxy cannot know).
  const direct = await fill(api1.url, toks, CAP);
  // 2. Every socket through HAProxy lands on api2, up to its own cap, none refused.
  const through: WebSocket[] = [];
  for (let i = 0; i < CAP; i++) {
    const o = await upgrade(cluster.haproxy.url, toks[i % toks.length]);
    assert.equal(
      o.kind,
      'open',
      `socket ${i + 1} through haproxy: ${JSON.stringify(o.kind === 'refused' && o)}`,
    );
    if (o.kind === 'open') {
      assert.equal(o.servedBy, 'api2');
      through.push(o.ws);
    }
  }
  // 3. With both full, the client gets the instance's answer: 503 with its code and Retry-After.
  assertFull(await upgrade(cluster.haproxy.url, toks[0]));
  for (const ws of [...direct, ...through]) ws.terminate();
});
