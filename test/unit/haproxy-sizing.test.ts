import assert from 'node:assert/strict';
import { test } from 'node:test';
import { haproxySizing, maxConnectionsFor, sizingAsShell } from '../../src/deploy/index.js';

test('maxconn is the frontend plus the stats page, descriptors two per connection plus margin', () => {
  const s = haproxySizing({ connections: 9000, httpConnections: 0, servers: 2, nofileLimit: 20_000 });
  assert.deepEqual(s, {
    maxconn: 9032,
    frontendMaxconn: 9000,
    statsMaxconn: 32,
    serverMaxconn: 32,
    nofile: 2 * 9032 + 64 + 2 * 2,
  });
  // Few users still get the floors; requests are shared between the servers.
  const small = haproxySizing({ connections: 10, httpConnections: 400, servers: 3, nofileLimit: 1024 });
  assert.equal(small.frontendMaxconn, 256);
  assert.equal(small.serverMaxconn, 134);
});

test('the most connections that fit a limit fit it exactly, one more is refused naming the numbers', () => {
  for (const [limit, servers] of [
    [20_000, 2],
    [3000, 2],
    [65_536, 6],
  ]) {
    const most = maxConnectionsFor(limit, servers);
    const s = haproxySizing({ connections: most, httpConnections: most, servers, nofileLimit: limit });
    assert.ok(s.nofile <= limit && s.nofile >= limit - 1, `${s.nofile} for ${limit}`);
    assert.throws(
      () => haproxySizing({ connections: most + 1, httpConnections: 0, servers, nofileLimit: limit }),
      new RegExp(
        `needs ${s.nofile + 2} file descriptors for ${most + 1} client connections .*` +
          `${servers} servers\\) but may open only ${limit}: at most ${most} client connections fit`,
      ),
    );
  }
  // About 9,900 client connections fit the 20,000 descriptors of this machine with two instances.
  assert.equal(maxConnectionsFor(20_000, 2), 9934);
});

test('bad inputs are refused naming the option', () => {
  const ok = { connections: 10, httpConnections: 0, servers: 1, nofileLimit: 4096 };
  assert.throws(() => haproxySizing({ ...ok, servers: 0 }), /servers must be a positive integer, not 0/);
  assert.throws(() => haproxySizing({ ...ok, connections: 1.5 }), /connections must be/);
  assert.throws(() => haproxySizing({ ...ok, httpConnections: -1 }), /httpConnections must be/);
});

test('the shell form names every limit the deploy script uses', () => {
  const shell = sizingAsShell(
    haproxySizing({ connections: 800, httpConnections: 400, servers: 2, nofileLimit: 4096 }),
  );
  assert.equal(
    shell,
    [
      'MAXCONN=832',
      'FRONTEND_MAXCONN=800',
      'STATS_MAXCONN=32',
      'SERVER_MAXCONN=200',
      'HAPROXY_NOFILE=1732',
    ].join('\n'),
  );
});
