// Prints HAProxy's connection limits sized from the descriptors it will have, and the API
// instances' (started under the same limit), as shell assignments for
// scripts/deploy-multiuser.sh (the `local` tier and `config`):
//   eval "$(node dist/scripts/haproxy-plan.js <connections> <http_connections> <servers> <nofile_limit>)"
// A configuration that cannot fit exits 2 with a message naming the numbers.
import { apiNofileFor, haproxySizing, sizingAsShell, wsMaxSocketsFor } from '../src/deploy/index.js';

const [connections, httpConnections, servers, nofileLimit] = process.argv.slice(2).map(Number);
try {
  const sizing = haproxySizing({ connections, httpConnections, servers, nofileLimit });
  const websockets = Math.ceil((connections - httpConnections) / servers);
  const lines = [
    sizingAsShell(sizing),
    // What one instance needs for its share, and WS_MAX_SOCKETS from the limit it really has.
    `API_NOFILE=${apiNofileFor({ websockets, requests: sizing.serverMaxconn })}`,
    `API_WS_MAX_SOCKETS=${wsMaxSocketsFor(nofileLimit, sizing.serverMaxconn)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (err) {
  process.stderr.write(`deploy-multiuser: ${(err as Error).message}\n`);
  process.exit(2);
}
