import net from 'node:net';

/** The one free-port finder of the tests: helpers and test files take their ports from here. */

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** `n` consecutive free loopback ports (the deploy script numbers API instances consecutively). */
export async function consecutiveFreePorts(n: number): Promise<number[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Below the kernel's ephemeral range (32768+ here): an outgoing connection cannot take one of
    // these ports between this check and the server's bind (it did, once, in CI).
    const base = 10_000 + Math.floor(Math.random() * (22_000 - n));
    const ports = Array.from({ length: n }, (_, i) => base + i);
    let ok = true;
    for (const p of ports) {
      if (!(await portFree(p))) {
        ok = false;
        break;
      }
    }
    if (ok) return ports;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

/** One free loopback port, for a server started by a test (redis-server, an API, Prometheus...). */
export async function freePort(): Promise<number> {
  return (await consecutiveFreePorts(1))[0];
}
