// Prints HAProxy's connection limits sized from the descriptors it will have, as shell
// assignments for scripts/deploy-multiuser.sh (the `local` tier and `config`):
//   eval "$(node dist/scripts/haproxy-plan.js <connections> <http_connections> <servers> <nofile_limit>)"
// A configuration that cannot fit exits 2 with a message naming the numbers.
import { haproxySizing, sizingAsShell } from '../src/deploy/index.js';

const [connections, httpConnections, servers, nofileLimit] = process.argv.slice(2).map(Number);
try {
  process.stdout.write(
    `${sizingAsShell(haproxySizing({ connections, httpConnections, servers, nofileLimit }))}\n`,
  );
} catch (err) {
  process.stderr.write(`deploy-multiuser: ${(err as Error).message}\n`);
  process.exit(2);
}
