import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface WorkerReadiness {
  /** Why the worker takes no jobs now, or undefined when it does. */
  notReadyReason(): string | undefined;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A worker process's own listener (WORKER_METRICS_PORT, 127.0.0.1 by default): `GET /metrics`
 * for Prometheus, `GET /health/live` (the process answers) and `GET /health/ready` (it takes
 * jobs: lanes open, Redis accepting writes, not stopping) for the deploy tiers. Plain node:http:
 * a worker has no Fastify (and needs none for three read-only routes). No credential: it binds
 * loopback unless told otherwise, and shows counts only (no ids, no paths).
 */
export async function startMetricsServer(
  registry: Registry,
  readiness: WorkerReadiness,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body));
    if (req.method !== 'GET') return json(405, { error: 'VC_ERR_VALIDATION', message: 'only GET is served' });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => send(200, registry.contentType, body),
        () => json(500, { error: 'VC_ERR_INTERNAL', message: 'metrics could not be collected' }),
      );
      return;
    }
    if (path === '/health/live')
      return json(200, { status: 'live', uptimeSec: Math.round(process.uptime()) });
    if (path === '/health/ready') {
      const reason = readiness.notReadyReason();
      return reason ? json(503, { status: 'unavailable', reason }) : json(200, { status: 'ok' });
    }
    json(404, { error: 'VC_ERR_NOT_FOUND', message: 'no such route' });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
