import { ensureSession, token, tokenRefused } from './api.js';
import { checkBuild } from './build.js';
import { newerId } from './lib/jobs.js';
import type { ClientMessage, ServerMessage } from './lib/types.js';

/**
 * The progress WebSocket. The page keeps the highest event id it saw and, after a reconnect,
 * sends it back to get exactly what it missed (or a snapshot). Reconnects with jittered
 * exponential back-off, so the clients of a stopped instance do not all come back at once. The
 * back-off starts over only once a socket is served (a snapshot, a replay, an event): a socket
 * refused after it opened (over the API rate limit, too many sockets) says why in an `error`
 * message and closes, and an immediate retry would only be refused, and counted, again. After a
 * reconnect the page asks whether the API is still its build (build.ts).
 */
export function connectLive(onMessage: (msg: ServerMessage) => void): void {
  let lastEventId = '';
  let attempt = 0;
  let opened = false;
  const connect = () => {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/api/ws`);
    ws.addEventListener('open', () => {
      // Back after a close (an instance restarted, maybe for a deploy): is the API another build now?
      if (opened) void checkBuild();
      opened = true;
      const t = token() ?? '';
      const hello: ClientMessage = lastEventId
        ? { type: 'resume', token: t, lastEventId, queue: true }
        : { type: 'auth', token: t, queue: true };
      ws.send(JSON.stringify(hello));
    });
    ws.addEventListener('message', (e) => {
      const msg = JSON.parse(String(e.data)) as ServerMessage;
      if (msg.type !== 'error') attempt = 0;
      if ('eventId' in msg && msg.eventId && (!lastEventId || newerId(msg.eventId, lastEventId)))
        lastEventId = msg.eventId;
      onMessage(msg);
    });
    ws.addEventListener('close', (e) => {
      if (e.code === 4401) {
        // A refused API key waits for the key form (which reloads the page); a session starts over.
        if (!tokenRefused()) return;
        lastEventId = '';
      }
      const delay = Math.min(10_000, 250 * 2 ** attempt++) * (0.5 + Math.random());
      setTimeout(() => ensureSession().then(connect, () => setTimeout(connect, delay)), delay);
    });
  };
  connect();
}
