import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { buildServer } from '../../src/server.js';
import { ApiClient, type Json, refusedUpgradeStatus } from '../helpers/client.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { type StartedProcess, spawnProcess } from '../helpers/processes.js';
import { CLI, startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

const ADMIN_TOKEN = 'limits-admin-token-0123456789abcdef';
let svc: TestService;
/**
 * A second API instance on the same Redis, configured as the first; a third that trusts no proxy; a fourth
 * in AUTH_MODE=keys. Each test uses its own client addresses and users, so each passes run alone.
 */
let second: { app: FastifyInstance; url: string };
let untrusting: { app: FastifyInstance; url: string };
let keysOnly: { app: FastifyInstance; url: string };
let dir: string;
let wav: Buffer;
/** The redis-server the last test starts in place of the killed one; stopped after the service. */
let revivedRedis: StartedProcess | undefined;

async function extraInstance(env: Record<string, string>): Promise<{ app: FastifyInstance; url: string }> {
  const config = loadConfig({ ...svc.env, ...env, LOG_LEVEL: process.env.VCFARM_TEST_LOG ?? 'silent' });
  const app = await buildServer(config, svc.redis.url, pino({ level: config.logLevel }));
  return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-limits-'));
  const plans = writePlans(dir, generousPlans(), (p) => {
    p.sessionRateLimit = { max: 3, windowSec: 60 };
    p.plans.free.rateLimits = {
      api: { max: 6, windowSec: 60 },
      conversions: { max: 2, windowSec: 60 },
      voiceClones: { max: 1, windowSec: 3600 },
      uploads: { max: 2, windowSec: 300 },
    };
  });
  svc = await startService({
    workers: 0,
    env: { PLANS_FILE: plans, ADMIN_TOKEN, TRUSTED_PROXIES: '127.0.0.1, ::1' },
  });
  second = await extraInstance({});
  untrusting = await extraInstance({ TRUSTED_PROXIES: '' });
  keysOnly = await extraInstance({ AUTH_MODE: 'keys' });
  wav = await readFile(tinyWav(1, 8000));
});
after(async () => {
  await second?.app.close();
  await untrusting?.app.close();
  await keysOnly?.app.close();
  await svc?.close();
  await revivedRedis?.kill();
  await rm(dir, { recursive: true, force: true });
});

function session(url: string, forwardedFor?: string): Promise<Response> {
  return fetch(`${url}/api/session`, {
    method: 'POST',
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });
}

function assertLimited(res: { status: number; headers: Headers }, limit: number): void {
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('x-ratelimit-limit'), String(limit));
  assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
  assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After');
  assert.ok(Number(res.headers.get('x-ratelimit-reset')) > 0, 'x-ratelimit-reset');
}

async function admin(
  url: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

test('sessions: per client IP across both instances; X-Forwarded-For only from a trusted proxy', async () => {
  // 1. Through both trusting instances, 10.0.0.1 gets 3 sessions (counted in Redis), then 429 on either.
  for (const url of [svc.baseUrl, second.url, svc.baseUrl]) {
    const res = await session(url, '10.0.0.1');
    assert.equal(res.status, 201);
  }
  const limited = await session(second.url, '10.0.0.1');
  assertLimited(limited, 3);
  assert.equal(((await limited.json()) as Json).error, 'VC_ERR_RATE_LIMITED');
  assertLimited(await session(svc.baseUrl, '10.0.0.1'), 3);
  // 2. Another forwarded client is counted apart.
  assert.equal((await session(second.url, '10.0.0.2')).status, 201);
  // 3. An instance that trusts no proxy: a forged header changes nothing, the peer is counted. (No other
  // test creates sessions from the bare peer address.)
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await session(untrusting.url, `192.0.2.${i}`)).status);
  assert.deepEqual(statuses, [201, 201, 201, 429]);
});

/** A new anonymous user, its session made from its own forwarded address (each test has its own tags). */
async function freshUser(tag: string): Promise<ApiClient> {
  const res = await session(svc.baseUrl, `10.1.${tag}.1`);
  assert.equal(res.status, 201);
  return new ApiClient(svc.baseUrl, (await res.json()) as Json);
}

test('per-user API limit shared by two instances, with x-ratelimit headers; other users unaffected', async () => {
  const user = await freshUser('9');
  const onSecond = new ApiClient(second.url, user.session);
  const remaining: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await (i % 2 ? onSecond : user).request('GET', '/api/workspace');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-ratelimit-limit'), '6');
    remaining.push(res.headers.get('x-ratelimit-remaining') ?? '');
  }
  assert.deepEqual(remaining, ['5', '4', '3', '2', '1', '0']);
  assertLimited(await onSecond.request('GET', '/api/jobs'), 6);
  const other = await freshUser('10');
  assert.equal((await other.request('GET', '/api/workspace')).status, 200);
});

test('uploads 2 per window and conversions 2 per window, across instances', async () => {
  const u = await freshUser('1');
  const u2 = new ApiClient(second.url, u.session);
  assert.equal((await u.uploadBytes(wav, 'a.wav')).status, 201);
  const up = await u2.uploadBytes(wav, 'b.wav');
  assert.equal(up.status, 201);
  const third = await u.uploadBytes(wav, 'c.wav');
  assert.equal(third.status, 429);
  assert.equal(third.body.error, 'VC_ERR_RATE_LIMITED');
  assert.match(third.body.message, /uploads rate limit of 2/);

  const c = await freshUser('2');
  const c2 = new ApiClient(second.url, c.session);
  const uploadId = (await c.uploadBytes(wav, 'a.wav')).body.upload.id;
  assert.equal((await c.request('POST', '/api/jobs', { uploadId, outputFormat: 'wav' })).status, 202);
  assert.equal((await c2.request('POST', '/api/jobs', { uploadId, outputFormat: 'wav' })).status, 202);
  const res = await c.request('POST', '/api/jobs', { uploadId, outputFormat: 'wav' });
  assertLimited(res, 2);
  assert.match(res.body.message, /conversions rate limit/);
});

test('WebSocket upgrades count against the API limit', async () => {
  const u = await freshUser('3');
  for (let i = 0; i < 5; i++) assert.equal((await u.request('GET', '/api/jobs')).status, 200);
  const events = await u.openEvents(); // the 6th request
  events.close();
  const status = await refusedUpgradeStatus(second.url, u.session?.token ?? '');
  assert.equal(status, 429);
});

test('AUTH_MODE=keys: no sessions; admin-issued keys work on every instance; rotate and delete', async () => {
  // 1. No anonymous sessions, and tokens of old sessions are not accepted.
  const refused = await fetch(`${keysOnly.url}/api/session`, { method: 'POST' });
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as Json).error, 'VC_ERR_SESSIONS_DISABLED');
  const anon = await freshUser('4');
  assert.equal(
    (await new ApiClient(keysOnly.url, anon.session).request('GET', '/api/workspace')).status,
    401,
  );

  // 2. The admin creates a pro user; the key is shown once and stored hashed.
  assert.equal(
    (await admin(keysOnly.url, 'POST', '/api/admin/users', { name: 'ada', plan: 'gold' })).status,
    400,
  );
  const created = await admin(keysOnly.url, 'POST', '/api/admin/users', { name: 'ada', plan: 'pro' });
  assert.equal(created.status, 201);
  const { apiKey, user } = created.body;
  assert.match(apiKey, /^vck_/);
  const dump = await promisify(execFile)('redis-cli', ['-p', String(svc.redis.port), '--scan']);
  assert.ok(!dump.stdout.includes(apiKey), 'the key itself is not stored');
  const ada = new ApiClient(keysOnly.url, { token: apiKey, userId: user.id });
  const ws = await ada.request('GET', '/api/workspace');
  assert.equal(ws.status, 200);
  assert.equal(ws.body.plan, 'pro');
  assert.equal(ws.headers.get('x-ratelimit-limit'), '1000000');
  assert.equal((await new ApiClient(svc.baseUrl, ada.session).request('GET', '/api/workspace')).status, 200);
  assert.equal((await ada.request('GET', '/api/admin/users')).status, 403);
  const listed = await admin(svc.baseUrl, 'GET', '/api/admin/users');
  assert.ok(listed.body.users.some((u: Json) => u.id === user.id && u.name === 'ada'));

  // 3. Rotation revokes the old key.
  const rotated = await admin(keysOnly.url, 'POST', `/api/admin/users/${user.id}/keys`);
  assert.equal(rotated.status, 201);
  assert.equal((await ada.request('GET', '/api/workspace')).status, 401);
  const ada2 = new ApiClient(keysOnly.url, { token: rotated.body.apiKey, userId: user.id });
  const uploadId = (await ada2.uploadBytes(wav, 'a.wav')).body.upload.id;
  const job = await ada2.createJob({ uploadId, outputFormat: 'wav' });

  // 4. Deleting the user revokes its key, cancels its jobs and removes its workspace.
  const removed = await admin(keysOnly.url, 'DELETE', `/api/admin/users/${user.id}`);
  assert.equal(removed.status, 200);
  assert.equal(removed.body.cancelledJobs, 1);
  assert.equal((await ada2.request('GET', '/api/workspace')).status, 401);
  await assert.rejects(stat(path.join(svc.dataDir, 'workspaces', user.id)));
  const tomb = JSON.parse(
    (
      await promisify(execFile)('redis-cli', [
        '-p',
        String(svc.redis.port),
        'GET',
        `vcfarm:cancelled:${job.id}`,
      ])
    ).stdout,
  ) as Json;
  assert.equal(tomb.state, 'cancelled');
  assert.equal((await admin(keysOnly.url, 'DELETE', `/api/admin/users/${user.id}`)).status, 404);
});

test('`vcfarm users add NAME --plan pro` prints a working API key', async () => {
  const child = spawn(process.execPath, [CLI, 'users', 'add', 'grace', '--plan', 'pro'], {
    env: { ...process.env, ...svc.env, VCFARM_URL: keysOnly.url, ADMIN_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 0, out);
  // The key on its own line, after who was created (--json gives the API's answer instead).
  const [, userId, apiKey] =
    /^created user "grace" \((u_\w+)\), plan pro\nAPI key: (vck_\S+)\n/.exec(out) ?? [];
  assert.ok(apiKey, out);
  const grace = new ApiClient(keysOnly.url, { token: apiKey, userId });
  assert.equal((await grace.request('GET', '/api/workspace')).body.plan, 'pro');
});

test('security headers: CSP on the page, HSTS only over TLS as told by a trusted proxy', async () => {
  const page = await fetch(`${svc.baseUrl}/`);
  assert.equal(page.status, 200);
  assert.match(
    page.headers.get('content-security-policy') ?? '',
    /script-src 'self'.*media-src 'self' blob:/,
  );
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('x-frame-options'), 'SAMEORIGIN');
  assert.equal(page.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
  assert.equal(page.headers.get('strict-transport-security'), null);
  const viaProxy = await fetch(`${svc.baseUrl}/health`, { headers: { 'x-forwarded-proto': 'https' } });
  assert.match(viaProxy.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
  const forged = await fetch(`${untrusting.url}/health`, { headers: { 'x-forwarded-proto': 'https' } });
  assert.equal(forged.headers.get('strict-transport-security'), null);
});

async function redisCli(...args: string[]): Promise<string> {
  return (await promisify(execFile)('redis-cli', ['-p', String(svc.redis.port), ...args])).stdout;
}

test('Redis unreachable: uploads and jobs fail closed with 503, reads fail open, then it recovers', async () => {
  const u = await freshUser('5');
  const uploadId = (await u.uploadBytes(wav, 'a.wav')).body.upload.id;
  // 1. Writes stall (CLIENT PAUSE WRITE): rate-limit counters cannot move, token lookups can. The
  //    pause outlasts the 2 s command timeout by far, so answers before it ends came from the timeout
  //    (a bound of 1.5 s over the timeout failed once with two test files at once on a loaded machine).
  await redisCli('CLIENT', 'PAUSE', '10000', 'WRITE');
  const t0 = Date.now();
  const [up, job, read] = await Promise.all([
    u.uploadBytes(wav, 'b.wav'),
    u.request('POST', '/api/jobs', { uploadId, outputFormat: 'wav' }),
    u.request('GET', '/api/workspace'),
  ]);
  assert.equal(up.status, 503, JSON.stringify(up.body));
  assert.equal(up.body.error, 'VC_ERR_UNAVAILABLE');
  assert.equal(job.status, 503);
  assert.equal(job.body.error, 'VC_ERR_UNAVAILABLE');
  assert.equal(read.status, 200, 'reads are let through while the limiter is down');
  assert.ok(Date.now() - t0 < 7000, 'answers come within the command timeout, before the pause ends');
  await redisCli('CLIENT', 'UNPAUSE');

  // 2. Redis gone: 503 at once, no hanging requests.
  const port = svc.redis.port;
  const exited = new Promise((r) => svc.redis.process.once('exit', r));
  svc.redis.process.kill('SIGKILL');
  await exited;
  const t1 = Date.now();
  const down = await u.uploadBytes(wav, 'c.wav');
  const downJob = await u.request('POST', '/api/jobs', { uploadId, outputFormat: 'wav' });
  assert.equal(down.status, 503);
  assert.equal(downJob.status, 503);
  assert.equal(downJob.body.error, 'VC_ERR_UNAVAILABLE');
  assert.ok(Date.now() - t1 < 3000);

  // 3. Redis back on the same port (empty): the service recovers by itself.
  revivedRedis = spawnProcess('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  const deadline = Date.now() + 10_000;
  let status = 0;
  while (Date.now() < deadline && status !== 201) {
    await new Promise((r) => setTimeout(r, 200));
    const s = await session(svc.baseUrl, '10.9.9.9').catch(() => undefined);
    status = s?.status ?? 0;
  }
  assert.equal(status, 201);
});
