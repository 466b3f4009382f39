import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AdminCredential } from '../../src/auth/index.js';
import { loadConfig } from '../../src/config/index.js';
import {
  boundedRetry,
  CLUSTER_FAILOVER_WAIT_MS,
  clusterNodes,
  clusterOptions,
  isClusterUrl,
  sentinelOptions,
  withoutPassword,
  withPassword,
} from '../../src/redis/index.js';
import { parseCpuList } from '../../workers/pool/index.js';

test('defaults apply when the environment is empty', () => {
  const c = loadConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.redisUrl, undefined);
  assert.equal(c.poolSize, 0);
  assert.equal(c.pinThreads, true);
  assert.ok(c.dataDir.endsWith('/data'));
});

test('values are parsed from strings', () => {
  const c = loadConfig({
    PORT: '9000',
    POOL_SIZE: '3',
    PIN_THREADS: 'no',
    REDIS_URL: 'redis://h:1/2',
    LOG_LEVEL: 'debug',
  });
  assert.deepEqual(
    [c.port, c.poolSize, c.pinThreads, c.redisUrl, c.logLevel],
    [9000, 3, false, 'redis://h:1/2', 'debug'],
  );
});

test('each bad value stops start-up with a message naming the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /PORT="eighty": must be an integer/],
    [{ PORT: '70000' }, /PORT="70000"/],
    [{ POOL_SIZE: '-1' }, /POOL_SIZE/],
    [{ PIN_THREADS: 'maybe' }, /PIN_THREADS/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ UPLOAD_MAX_BYTES: '10' }, /UPLOAD_MAX_BYTES/],
    [{ WORKER_ID: 'a b' }, /WORKER_ID/],
    // A human-sized admin token is guessable: 32 characters at least.
    [{ ADMIN_TOKEN: 'correct-horse-battery-st' }, /ADMIN_TOKEN/],
    [{ REQUEST_TIMEOUT_MS: '10' }, /REQUEST_TIMEOUT_MS/],
    [{ UPLOADS_PER_USER: '0' }, /UPLOADS_PER_USER/],
    [
      { REDIS_PASSWORD_FILE: '/nonexistent/redis-password' },
      /REDIS_PASSWORD_FILE="\/nonexistent\/redis-password": cannot be read/,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VC_ERR_CONFIG');
        assert.match(err.message, message);
        return true;
      },
    );
  }
});

test('an admin token file with a short token stops start-up; the Redis password comes from its file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcfarm-config-'));
  try {
    const short = path.join(dir, 'admin-token');
    writeFileSync(short, 'sixteen-chars-ab\n');
    assert.throws(
      () => new AdminCredential(undefined, short),
      /ADMIN_TOKEN_FILE holds a token of 16 characters/,
    );
    const pw = path.join(dir, 'redis-password');
    writeFileSync(pw, 's3cret/with:odd@chars\n', { mode: 0o600 });
    const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390/2', REDIS_PASSWORD_FILE: pw });
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6390/2');
    assert.equal(c.redisPassword, 's3cret/with:odd@chars');
    const url = new URL(withPassword(c.redisUrl ?? '', c.redisPassword));
    assert.equal(decodeURIComponent(url.password), 's3cret/with:odd@chars');
    assert.equal(withoutPassword(url.toString()), 'redis://127.0.0.1:6390/2');
    // A password written into REDIS_URL itself wins over the file.
    assert.equal(new URL(withPassword('redis://:inline@h:1', c.redisPassword)).password, 'inline');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CPU lists parse as the kernel writes them', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList('5\n'), [5]);
});

test('REDIS_SENTINELS becomes one redis-sentinel:// address; with REDIS_URL too, start-up stops', () => {
  const c = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379,sentinel-b:26380', REDIS_MASTER_NAME: 'main' });
  assert.deepEqual(sentinelOptions(c.redisUrl ?? ''), {
    sentinels: [
      { host: '10.0.0.1', port: 26379 },
      { host: 'sentinel-b', port: 26380 },
    ],
    name: 'main',
    db: 0,
    password: undefined,
    sentinelRetryStrategy: boundedRetry,
  });
  assert.equal(sentinelOptions(withPassword(c.redisUrl ?? '', 'p@ss/word'))?.password, 'p@ss/word');
  assert.equal(sentinelOptions('redis://127.0.0.1:6379'), undefined);
  assert.throws(
    () => loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379', REDIS_URL: 'redis://127.0.0.1:6379' }),
    /REDIS_SENTINELS and REDIS_URL are both set/,
  );
  assert.throws(() => loadConfig({ REDIS_SENTINELS: '10.0.0.1' }), /REDIS_SENTINELS="10.0.0.1"/);
});

test('REDIS_CLUSTER_NODES becomes one redis-cluster:// address and wants a hash-tagged REDIS_PREFIX', () => {
  const c = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,node-b:7001', REDIS_PREFIX: '{vcfarm}' });
  const url = withPassword(c.redisUrl ?? '', 'p@ss/word');
  assert.ok(isClusterUrl(url));
  assert.deepEqual(clusterNodes(url), [
    { host: '10.0.0.1', port: 7000 },
    { host: 'node-b', port: 7001 },
  ]);
  const options = clusterOptions(url, { maxRetriesPerRequest: null, connectionName: 'n' });
  assert.deepEqual(options.redisOptions, {
    maxRetriesPerRequest: null,
    connectionName: 'n',
    password: 'p@ss/word',
  });
  // A long-lived connection waits out a failover; a fail-fast one gives up after ioredis's default.
  assert.equal(
    (options.maxRedirections ?? 0) * (options.retryDelayOnFailover ?? 0),
    CLUSTER_FAILOVER_WAIT_MS,
  );
  assert.equal(clusterOptions(url, { maxRetriesPerRequest: 0 }).maxRedirections, undefined);
  assert.equal(new URL(withoutPassword(url)).password, '');
  // A plain name is still a fine prefix for one Redis, and a hash tag too.
  assert.equal(loadConfig({ REDIS_PREFIX: '{vcfarm}' }).redisPrefix, '{vcfarm}');
  for (const prefix of ['vcfarm', '']) {
    assert.throws(
      () => loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_PREFIX: prefix }),
      /REDIS_PREFIX="vcfarm": on a Redis Cluster \(REDIS_CLUSTER_NODES\) the prefix must be a hash tag such as \{vcfarm\}/,
    );
  }
  for (const prefix of ['{vcfarm', 'vc{farm}', '{}', '{a}{b}', '{vc farm}'])
    assert.throws(() => loadConfig({ REDIS_PREFIX: prefix }), /REDIS_PREFIX=/, prefix);
  assert.throws(
    () =>
      loadConfig({
        REDIS_CLUSTER_NODES: '10.0.0.1:7000',
        REDIS_PREFIX: '{v}',
        REDIS_URL: 'redis://127.0.0.1:6379',
      }),
    /REDIS_CLUSTER_NODES and REDIS_URL are both set; set one/,
  );
  assert.throws(
    () =>
      loadConfig({
        REDIS_CLUSTER_NODES: '10.0.0.1:7000',
        REDIS_PREFIX: '{v}',
        REDIS_SENTINELS: '10.0.0.1:26379',
      }),
    /REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set; set one/,
  );
  assert.throws(() => loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1' }), /REDIS_CLUSTER_NODES="10.0.0.1"/);
});

test('REDIS_SENTINEL_TLS: the sentinels and the master over TLS, trusting REDIS_TLS_CA_FILE', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcfarm-config-'));
  try {
    const caFile = path.join(dir, 'ca.pem');
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    writeFileSync(caFile, pem);
    const sentinels = '10.0.0.1:26379,10.0.0.2:26379';
    const c = loadConfig({
      REDIS_SENTINELS: sentinels,
      REDIS_SENTINEL_TLS: 'yes',
      REDIS_TLS_CA_FILE: caFile,
    });
    assert.match(c.redisUrl ?? '', /^rediss-sentinel:\/\/vcfarm\/0\?/);
    const o = sentinelOptions(withPassword(c.redisUrl ?? '', 'secret'));
    assert.equal(o?.password, 'secret');
    assert.equal(o?.name, 'vcfarm');
    assert.equal(o?.sentinels?.length, 2);
    assert.deepEqual(o?.sentinelTLS, { ca: pem });
    assert.deepEqual(o?.tls, { ca: pem });
    assert.equal(o?.enableTLSForSentinelMode, true);
    // Without a CA file: TLS with Node's CAs.
    const plainCa = sentinelOptions(
      loadConfig({ REDIS_SENTINELS: sentinels, REDIS_SENTINEL_TLS: 'yes' }).redisUrl ?? '',
    );
    assert.deepEqual([plainCa?.sentinelTLS, plainCa?.tls, plainCa?.enableTLSForSentinelMode], [{}, {}, true]);
    // Without REDIS_SENTINEL_TLS: no TLS at all.
    const plain = sentinelOptions(loadConfig({ REDIS_SENTINELS: sentinels }).redisUrl ?? '');
    assert.equal(plain?.tls, undefined);
    assert.equal(plain?.enableTLSForSentinelMode, undefined);
    // Refused, naming the variables: TLS without sentinels, a CA for sentinels without TLS.
    assert.throws(
      () => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_SENTINEL_TLS: 'yes' }),
      /REDIS_SENTINEL_TLS is for REDIS_SENTINELS, which is not set/,
    );
    assert.throws(
      () => loadConfig({ REDIS_SENTINELS: sentinels, REDIS_TLS_CA_FILE: caFile }),
      /REDIS_TLS_CA_FILE is for a TLS Redis: REDIS_URL must be rediss:\/\/\.\.\., or REDIS_SENTINELS with REDIS_SENTINEL_TLS=yes/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CORS_ORIGINS: origins separated by commas, compared in lower case; a path or another scheme stops start-up', () => {
  assert.deepEqual(loadConfig({}).corsOrigins, []);
  assert.deepEqual(
    loadConfig({ CORS_ORIGINS: 'https://App.Example.com, http://127.0.0.1:3000' }).corsOrigins,
    ['https://app.example.com', 'http://127.0.0.1:3000'],
  );
  for (const bad of ['https://a.example/app', 'ftp://a.example', 'a.example'])
    assert.throws(
      () => loadConfig({ CORS_ORIGINS: bad }),
      /CORS_ORIGINS=.*must be origins \(scheme:\/\/host\[:port\], no path\) separated by commas/,
      bad,
    );
});

test('PUBLIC_URL: an absolute http(s) URL without a query; anything else stops start-up naming it', () => {
  assert.equal(loadConfig({}).publicUrl, undefined);
  assert.equal(
    loadConfig({ PUBLIC_URL: 'https://vc.example.com/farm/' }).publicUrl,
    'https://vc.example.com/farm/',
  );
  for (const bad of ['vc.example.com', 'https://vc.example.com/?a=1', 'ftp://vc.example.com'])
    assert.throws(
      () => loadConfig({ PUBLIC_URL: bad }),
      /PUBLIC_URL=.*must be an absolute http:\/\/ or https:\/\/ URL/,
      bad,
    );
});
