import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { HTTP_STATUS } from '../../src/api/error-handler.js';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { openApiPath, ResponseChecker, registeredRoutes } from '../helpers/openapi.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

let svc: TestService;
let doc: Json;
before(async () => {
  svc = await startService({ workers: 1, env: { ADMIN_TOKEN } });
  const res = await fetch(`${svc.baseUrl}/api/openapi.json`);
  assert.equal(res.status, 200);
  doc = await res.json();
});
after(async () => {
  await svc?.close();
});

test('the document is valid OpenAPI 3.1 (checked by a real validator)', async () => {
  assert.match(doc.openapi, /^3\.1\./);
  const result = await new Validator().validate(doc);
  assert.equal(result.valid, true, JSON.stringify(result.errors)?.slice(0, 2000));
});

test('every registered route appears, with its methods', () => {
  const routes = registeredRoutes(svc.app.printRoutes({ commonPrefix: false })).filter(
    // The reference page's own files and the web page's static files are not API routes.
    (r) => r.method !== 'HEAD' && !r.path.startsWith('/api/docs') && r.path !== '*' && r.path !== '/*',
  );
  assert.ok(routes.length >= 25, `only ${routes.length} routes read from the tree`);
  const missing = routes.filter((r) => !doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()]);
  assert.deepEqual(missing, []);
  for (const path of ['/api/jobs', '/api/jobs/{id}/result', '/api/ws', '/api/system/scale', '/api/voices'])
    assert.ok(doc.paths[path], `${path} missing`);
});

test('every operation declares its success answer with a schema (JSON, audio, HTML, text or the WebSocket upgrade)', () => {
  const lacking: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^(2\d\d|101)$/.test(status));
      if (ok.length === 0) lacking.push(`${method.toUpperCase()} ${path}: no 2xx`);
      for (const [status, response] of ok as [string, Json][]) {
        if (status === '204' || status === '101') continue;
        const schemas = Object.values(response.content ?? {}).map((c) => (c as Json).schema);
        if (schemas.length === 0 || schemas.some((sc) => !sc))
          lacking.push(`${method.toUpperCase()} ${path} ${status}: no schema`);
      }
    }
  }
  assert.deepEqual(lacking, []);
});

test('error codes with statuses, the three auth schemes and the WebSocket messages are documented', () => {
  for (const [code, status] of Object.entries(HTTP_STATUS))
    assert.ok(doc.info.description.includes(`| \`${code}\` | ${status} |`), `${code} → ${status} missing`);
  assert.deepEqual(
    doc.components.schemas.Error.properties.error.enum.sort(),
    Object.keys(HTTP_STATUS).sort(),
  );
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), [
    'adminToken',
    'apiKey',
    'sessionToken',
  ]);
  assert.deepEqual(doc.paths['/api/admin/users'].post.security, [{ adminToken: [] }]);
  assert.deepEqual(doc.paths['/api/jobs'].post.security, [{ sessionToken: [] }, { apiKey: [] }]);
  assert.deepEqual(doc.paths['/api/session'].post.security, []);
  assert.ok(doc.paths['/api/jobs'].post.responses['401'], 'a secured route declares its 401');
  const types = doc.components.schemas.WsServerMessage.anyOf
    .map((s: Json) => s.properties.type.enum[0])
    .sort();
  assert.deepEqual(types, [
    'cancelled',
    'completed',
    'error',
    'failed',
    'progress',
    'queue',
    'removed',
    'resultGone',
    'snapshot',
    'stage',
  ]);
  assert.ok(doc.components.schemas.WsClientMessage);
});

test('the reference page is served at /api/docs', async () => {
  const res = await fetch(`${svc.baseUrl}/api/docs`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await res.text(), /swagger/i);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
});

test('responses of a real run match their declared schemas', async () => {
  const check = new ResponseChecker(doc);
  const client = await ApiClient.anonymous(svc.baseUrl);
  const call = async (method: string, url: string, path: string, body?: unknown) => {
    const res = await client.request(method, url, body);
    check.check(method, path, res.status, res.body);
    return res;
  };
  const events = await client.openEvents();
  check.check('POST', '/api/session', 201, client.session);

  // 1. Upload, convert, watch, read back.
  const up = await client.upload(tinyWav(1));
  check.check('POST', '/api/uploads', up.status, up.body);
  const id = up.body.upload.id as string;
  await call('GET', `/api/uploads/${id}`, '/api/uploads/{id}');
  const created = await call('POST', '/api/jobs', '/api/jobs', {
    uploadId: id,
    outputFormat: 'mp3',
    pitchSemitones: 2,
  });
  assert.equal(created.status, 202);
  const jobId = created.body.job.id as string;
  await events.waitFor((m) => m.type === 'completed' && m.jobId === jobId);
  const done = await call('GET', `/api/jobs/${jobId}`, '/api/jobs/{id}');
  assert.equal(done.body.job.state, 'completed');
  await call('GET', '/api/jobs?limit=5', '/api/jobs');
  await call('GET', '/api/voices', '/api/voices');
  await call('GET', '/api/models', '/api/models');
  await call('GET', '/api/workspace', '/api/workspace');
  for (const m of events.messages) {
    const { at: _at, ...message } = m;
    check.component('WsServerMessage', message);
  }
  events.close();

  // 2. Refusals carry the declared error shape.
  assert.equal((await call('GET', '/api/jobs/nosuchjob123', '/api/jobs/{id}')).status, 404);
  assert.equal((await call('POST', '/api/jobs', '/api/jobs', { uploadId: id })).status, 400);
  const anon = new ApiClient(svc.baseUrl);
  const unauth = await anon.request('GET', '/api/jobs');
  check.check('GET', '/api/jobs', unauth.status, unauth.body);

  // 3. Admin routes and health.
  const users = await adminRequest(svc.baseUrl, 'GET', '/api/admin/users');
  check.check('GET', '/api/admin/users', users.status, users.body);
  // The operators' views, with a live worker and a finished job in them.
  const stats = await adminRequest(svc.baseUrl, 'GET', '/api/system/stats');
  assert.equal(stats.status, 200);
  check.check('GET', '/api/system/stats', stats.status, stats.body);
  assert.ok(
    stats.body.workers.length >= 1 && stats.body.workers[0].threads.length >= 1,
    JSON.stringify(stats.body),
  );
  assert.ok(
    stats.body.throughput.some((w: Json) => w.completed >= 1),
    'the finished job is counted',
  );
  const queue = await adminRequest(svc.baseUrl, 'GET', '/api/queue/status');
  assert.equal(queue.status, 200);
  check.check('GET', '/api/queue/status', queue.status, queue.body);
  assert.ok(queue.body.counts.completed >= 1);
  await call('GET', '/api/queue', '/api/queue');
  const health = await fetch(`${svc.baseUrl}/health`);
  check.check('GET', '/health', health.status, await health.json());
  await call('DELETE', `/api/jobs/${jobId}/result`, '/api/jobs/{id}/result').catch((err) => {
    // 204 has no JSON body: checked by status alone.
    assert.match(String(err), /no JSON schema/);
  });
});

test('the refusals routes really answer are declared, with the error schema (malformed ids, signed links, ranges, the admin metrics)', async () => {
  const check = new ResponseChecker(doc);
  const client = await ApiClient.anonymous(svc.baseUrl);
  const up = await client.upload(tinyWav(1));
  assert.equal(up.status, 201);
  const uploadId = up.body.upload.id as string;
  const job = await client.createJob({ uploadId, outputFormat: 'wav' });
  assert.equal((await client.waitForJobEnd(job.id)).state, 'completed');
  const unknown = '00000000-0000-4000-8000-000000000000';
  const refused: [method: string, url: string, path: string, status: number, init?: RequestInit][] = [
    // A path parameter or query the schema refuses: 400.
    ['GET', '/api/jobs/x', '/api/jobs/{id}', 400],
    ['DELETE', '/api/jobs/x/record', '/api/jobs/{id}/record', 400],
    ['DELETE', '/api/jobs/x/result', '/api/jobs/{id}/result', 400],
    ['GET', '/api/uploads/x', '/api/uploads/{id}', 400],
    ['DELETE', '/api/uploads/x', '/api/uploads/{id}', 400],
    ['GET', '/api/voices/x', '/api/voices/{id}', 400],
    ['DELETE', '/api/voices/x', '/api/voices/{id}', 400],
    // The signed audio routes: a bad query (400), an unknown id (404), a link altered (403), a
    // Range outside the file (416).
    ['GET', `/api/jobs/${job.id}/result?partial=yes`, '/api/jobs/{id}/result', 400],
    ['GET', `/api/jobs/${unknown}/result`, '/api/jobs/{id}/result', 404],
    ['GET', `/api/uploads/${unknown}/audio`, '/api/uploads/{id}/audio', 404],
    ['GET', `/api/voices/${unknown}/preview`, '/api/voices/{id}/preview', 404],
    [
      'GET',
      `/api/jobs/${job.id}/result`,
      '/api/jobs/{id}/result',
      416,
      { headers: { range: 'bytes=99999999-' } },
    ],
    [
      'GET',
      `/api/uploads/${uploadId}/audio`,
      '/api/uploads/{id}/audio',
      416,
      { headers: { range: 'bytes=99999999-' } },
    ],
  ];
  for (const [method, url, path, status, init] of refused) {
    const res = await fetch(`${svc.baseUrl}${url}`, {
      method,
      ...init,
      headers: { ...client.headers(), ...(init?.headers as Record<string, string>) },
    });
    assert.equal(res.status, status, `${method} ${url}`);
    check.check(method, path, res.status, await res.json());
  }
  // A signed link altered: 403 to a caller without a token.
  const signed = (await client.job(job.id)).resultUrl as string;
  const altered = await fetch(`${svc.baseUrl}${signed.replace(/sig=./, 'sig=A')}`);
  assert.equal(altered.status, 403);
  check.check('GET', '/api/jobs/{id}/result', altered.status, await altered.json());
  const sourceUrl = (await client.job(job.id)).sourceUrl as string;
  const alteredSource = await fetch(`${svc.baseUrl}${sourceUrl.replace(/sig=./, 'sig=A')}`);
  assert.equal(alteredSource.status, 403);
  check.check('GET', '/api/uploads/{id}/audio', alteredSource.status, await alteredSource.json());
  // A signed route needs no bearer token: the document says so (an empty requirement).
  assert.ok(
    doc.paths['/api/jobs/{id}/result'].get.security.some((r: Json) => Object.keys(r).length === 0),
    'the signed result link needs no token',
  );
  // Admin routes with a malformed id, and the admin-only metrics.
  for (const [method, url, path] of [
    ['DELETE', '/api/admin/users/x', '/api/admin/users/{id}'],
    ['POST', '/api/admin/users/x/keys', '/api/admin/users/{id}/keys'],
    ['GET', '/api/system/scale/x', '/api/system/scale/{requestId}'],
  ]) {
    const res = await adminRequest(svc.baseUrl, method, url);
    assert.equal(res.status, 400, `${method} ${url}`);
    check.check(method, path, res.status, res.body);
  }
  const noToken = await adminRequest(svc.baseUrl, 'GET', '/metrics', undefined, '');
  assert.equal(noToken.status, 401);
  check.check('GET', '/metrics', noToken.status, noToken.body);
  const userToken = await fetch(`${svc.baseUrl}/metrics`, { headers: client.headers() });
  assert.equal(userToken.status, 403);
  check.check('GET', '/metrics', userToken.status, await userToken.json());
  assert.deepEqual(doc.paths['/metrics'].get.security, [{ adminToken: [] }]);
});
