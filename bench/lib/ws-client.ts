import WebSocket from 'ws';

/**
 * One progress socket, open once its snapshot arrived; `onEvent` gets each progress event's id.
 * A 503 (an instance shedding load, HAProxy without a live server) is retried after 500 ms as a
 * client honouring Retry-After would, at most 20 times; `onRetry` counts them.
 */
export function connectOne(
  url: string,
  onEvent: (eventId: string) => void,
  onRetry: () => void,
  attempt = 0,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      ws.terminate();
      if (res.statusCode !== 503 || attempt >= 20) return reject(new Error(`upgrade: ${res.statusCode}`));
      onRetry();
      setTimeout(() => connectOne(url, onEvent, onRetry, attempt + 1).then(resolve, reject), 500);
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; eventId: string };
      if (msg.type === 'snapshot') resolve(ws);
      else if (msg.type === 'progress') onEvent(msg.eventId);
    });
  });
}

/** Opens the sockets 100 at a time; resolves when every snapshot arrived. */
export async function connectMany(
  urls: string[],
  onEvent: (eventId: string) => void,
  onRetry: () => void,
): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < urls.length; i += 100)
    sockets.push(...(await Promise.all(urls.slice(i, i + 100).map((u) => connectOne(u, onEvent, onRetry)))));
  return sockets;
}
