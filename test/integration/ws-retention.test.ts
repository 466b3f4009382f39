import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import v8 from 'node:v8';
import WebSocket from 'ws';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';

// The API runs in this process, so the objects its sockets keep alive can be counted here.
let svc: TestService;

before(async () => {
  svc = await startService({ workers: 0 });
});
after(async () => {
  await svc?.close();
});

const SOCKETS = 40;

/** Live objects of a class in this process, after a full collection (v8.queryObjects collects first). */
const live = (ctor: new (...args: never[]) => unknown) =>
  v8.queryObjects(ctor as unknown as (...args: unknown[]) => unknown, { format: 'count' });

/** An open progress socket, past its snapshot. */
function open(token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${svc.baseUrl.replace(/^http/, 'ws')}/api/ws?token=${token}`);
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('an open WebSocket keeps neither its upgrade request nor the response that ran the route', async () => {
  const users = await Promise.all(Array.from({ length: SOCKETS }, () => ApiClient.anonymous(svc.baseUrl)));
  // 1. Baseline with nothing open (the requests above have ended).
  const responses0 = live(ServerResponse);
  const requests0 = live(IncomingMessage);
  // 2. SOCKETS sockets of SOCKETS users, each past its snapshot, so its route has run.
  const sockets = await Promise.all(users.map((u) => open(u.session?.token ?? '')));
  try {
    // 3. Before the fix each socket held one of each (about 3.6 KB of heap with Fastify's request
    //    and reply, bench/ws-memory.ts); a few may still be on their way out.
    const responses = live(ServerResponse) - responses0;
    const requests = live(IncomingMessage) - requests0;
    assert.ok(responses < SOCKETS / 4, `${responses} server responses held by ${SOCKETS} open sockets`);
    assert.ok(requests < SOCKETS / 4, `${requests} requests held by ${SOCKETS} open sockets`);
    // 4. The sockets still work: each is open and answers a ping.
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('pong', () => resolve());
            ws.ping();
          }),
      ),
    );
  } finally {
    for (const ws of sockets) ws.terminate();
  }
});
