import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { HTTP_STATUS } from '../../src/api/error-handler.js';
import { patternWords } from '../../src/api/fields.js';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';

// A value a route's schema refuses is answered 400 VC_ERR_VALIDATION with a message that names the
// field and says in words what it must be: never the pattern, never an internal detail.

let svc: TestService;
let user: ApiClient;
before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  user = await ApiClient.anonymous(svc.baseUrl);
});
after(async () => {
  await svc?.close();
});

const JOB = 'abcdefgh1234';
const UPLOAD = 'abcdefgh5678';

/** [who asks, method, path, JSON body or undefined, the whole message expected]. */
const TABLE: ['user' | 'admin', string, string, unknown, string][] = [
  [
    'user',
    'POST',
    '/api/jobs',
    { uploadId: '../../etc/passwd', outputFormat: 'wav' },
    "uploadId must be an id of 8-64 letters, digits, '-' or '_'",
  ],
  [
    'user',
    'POST',
    '/api/jobs',
    { uploadId: UPLOAD, outputFormat: 'wav', voiceId: 'x' },
    "voiceId must be an id of 8-64 letters, digits, '-' or '_'",
  ],
  [
    'user',
    'POST',
    '/api/jobs',
    { uploadId: UPLOAD, outputFormat: 'wav', model: 'Default/..' },
    "model must be a model name: 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
  ],
  [
    'user',
    'POST',
    '/api/jobs',
    { uploadId: UPLOAD, outputFormat: 'wav', pitchSemitones: 99 },
    'pitchSemitones must be at most 24',
  ],
  [
    'user',
    'POST',
    '/api/jobs',
    { uploadId: UPLOAD, outputFormat: 'wav', voiceId: 'preset-espeak-m3', strength: 2 },
    'strength must be at most 1',
  ],
  ['user', 'POST', '/api/jobs', { outputFormat: 'wav' }, 'uploadId is required'],
  [
    'user',
    'POST',
    '/api/jobs',
    { uploadId: UPLOAD, outputFormat: 'aac' },
    'outputFormat must be one of wav, mp3, ogg, flac',
  ],
  [
    'user',
    'GET',
    '/api/jobs?limit=0',
    undefined,
    'query parameter limit must be a whole number from 1 to 100',
  ],
  [
    'user',
    'GET',
    '/api/jobs?limit=500',
    undefined,
    'query parameter limit must be a whole number from 1 to 100',
  ],
  [
    'user',
    'GET',
    '/api/jobs?cursor=yesterday',
    undefined,
    'query parameter cursor must be the nextCursor of a previous page, as it was given',
  ],
  [
    'user',
    'GET',
    '/api/jobs?state=done',
    undefined,
    'query parameter state must be one or more of queued, active, completed, failed, cancelled, separated by commas',
  ],
  [
    'user',
    'GET',
    '/api/jobs/short',
    undefined,
    "path parameter id must be an id of 8-64 letters, digits, '-' or '_'",
  ],
  [
    'user',
    'DELETE',
    `/api/jobs/${JOB}?remove=1`,
    undefined,
    'DELETE /api/jobs/:id only cancels; to remove a finished job for good use DELETE /api/jobs/:id/record',
  ],
  [
    'user',
    'GET',
    `/api/jobs/${JOB}/result?exp=tomorrow`,
    undefined,
    'query parameter exp must be the expiry of a signed link: up to 12 digits',
  ],
  ['user', 'GET', `/api/jobs/${JOB}/result?partial=yes`, undefined, 'query parameter partial must be "1"'],
  [
    'user',
    'GET',
    `/api/jobs/${JOB}/result?exp=1&sig=abc`,
    undefined,
    "query parameter sig must be the signature of a signed link: 16-128 letters, digits, '-' or '_'",
  ],
  [
    'user',
    'GET',
    `/api/uploads/${UPLOAD}/audio?user=root`,
    undefined,
    'query parameter user must be a user id: "u_" then 4-64 lower-case letters or digits',
  ],
  [
    'user',
    'GET',
    '/api/voices/preset-clara/preview?model=../../etc',
    undefined,
    "query parameter model must be a model name: 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
  ],
  [
    'user',
    'POST',
    '/api/voices?model=UPPER',
    undefined,
    "query parameter model must be a model name: 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
  ],
  [
    'admin',
    'GET',
    '/api/admin/failures?limit=101',
    undefined,
    'query parameter limit must be a whole number from 1 to 100',
  ],
  [
    'admin',
    'POST',
    '/api/admin/users',
    { name: 'Ada <script>', plan: 'free' },
    "name must be 1-100 letters, digits, spaces, '_', '.', '@', '+' or '-'",
  ],
  [
    'admin',
    'POST',
    '/api/admin/users',
    { name: 'Ada', plan: 'Free!' },
    "plan must be a plan name: 1-32 lower-case letters, digits, '-' or '_', starting with a letter",
  ],
  [
    'admin',
    'POST',
    '/api/system/scale',
    { worker_id: 'worker one' },
    "worker_id must be a worker id: 1-64 letters, digits, '.', '-' or '_'",
  ],
  [
    'admin',
    'GET',
    '/api/system/scale/not-a-request-id',
    undefined,
    'path parameter requestId must be a UUID: 32 hexadecimal digits in groups of 8-4-4-4-12, separated by "-"',
  ],
];

test('a table of bad values over the routes: 400 VC_ERR_VALIDATION, the field and what it must be, in words', async () => {
  const wrong: string[] = [];
  for (const [who, method, url, body, message] of TABLE) {
    const r =
      who === 'admin'
        ? await adminRequest(svc.baseUrl, method, url, body)
        : await user.request(method, url, body);
    const got = `${r.status} ${r.body?.error} ${r.body?.message}`;
    if (got !== `400 VC_ERR_VALIDATION ${message}`) wrong.push(`${method} ${url}: ${got}`);
    // Whatever the words, nothing of a regular expression and nothing of the server.
    if (/pattern|[\^$\\[\]{}]|\/(work|tmp|home|usr)\//.test(String(r.body?.message)))
      wrong.push(`${method} ${url}: quotes a pattern or a path: ${r.body?.message}`);
  }
  assert.deepEqual(wrong, []);
});

/** Every `pattern` in a schema, with where it was found. */
function patternsIn(node: Json, where: string, found: [string, string][]): [string, string][] {
  if (node && typeof node === 'object') {
    if (typeof node.pattern === 'string') found.push([where, node.pattern]);
    for (const [k, v] of Object.entries(node)) if (k !== 'pattern') patternsIn(v, `${where}.${k}`, found);
  }
  return found;
}

test('every pattern a route checks (parameters, headers, bodies in the OpenAPI document) has its words', async () => {
  const doc = (await (await fetch(`${svc.baseUrl}/api/openapi.json`)).json()) as Json;
  const found: [string, string][] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Json>>))
    for (const [method, op] of Object.entries(ops)) {
      patternsIn(op.parameters, `${method.toUpperCase()} ${path} parameters`, found);
      patternsIn(op.requestBody, `${method.toUpperCase()} ${path} body`, found);
    }
  // The walk reaches the routes' fields: ids, pages, signed links, admin bodies, the idempotency key.
  assert.ok(new Set(found.map(([, p]) => p)).size >= 11, `only ${found.length} patterns found`);
  assert.deepEqual(
    found.filter(([, p]) => patternWords(p) === undefined).map(([where, p]) => `${where}: ${p}`),
    [],
  );
});

test('a body of a content type the route does not take: 415 VC_ERR_UNSUPPORTED_MEDIA_TYPE, the status its code maps to, declared in the document', async () => {
  const doc = (await (await fetch(`${svc.baseUrl}/api/openapi.json`)).json()) as Json;
  const cases: [string, string, string, string, string][] = [
    // [method, url, the document's path, content type, body]
    ['POST', '/api/uploads', '/api/uploads', 'application/json', '{}'],
    ['POST', '/api/voices', '/api/voices', 'application/json', '{"name":"x"}'],
    ['POST', '/api/jobs', '/api/jobs', 'application/xml', '<job/>'],
    ['PUT', '/api/webhook', '/api/webhook', 'application/xml', '<webhook/>'],
  ];
  const wrong: string[] = [];
  for (const [method, url, path, type, body] of cases) {
    const res = await fetch(`${svc.baseUrl}${url}`, {
      method,
      headers: { ...user.headers(), 'content-type': type },
      body,
    });
    const got = (await res.json()) as Json;
    if (res.status !== 415 || got.error !== 'VC_ERR_UNSUPPORTED_MEDIA_TYPE')
      wrong.push(`${method} ${url} (${type}): ${res.status} ${JSON.stringify(got)}`);
    else assert.equal(got.message, `this route does not take a body of type "${type}"`);
    // The code's own status, as the error table and the document's description give it.
    if (!doc.info.description.includes(`| \`${got.error}\` | ${res.status} |`))
      wrong.push(`${method} ${url}: ${got.error} is not ${res.status} in the document's table`);
    if (!doc.paths[path][method.toLowerCase()].responses['415'])
      wrong.push(`${method} ${path}: 415 not declared`);
  }
  assert.deepEqual(wrong, []);
});

test("what Node's HTTP server refuses before any route has the code of its status: headers too large (431), not HTTP (400)", async () => {
  const { port } = new URL(svc.baseUrl);
  const raw = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => sock.write(request));
      let text = '';
      sock.on('data', (b: Buffer) => {
        text += b.toString();
      });
      sock.on('error', reject);
      sock.on('close', () => resolve(text));
    });
  const answers: [string, number, string][] = [
    [
      await raw(`GET /api/jobs HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      431,
      'VC_ERR_HEADERS_TOO_LARGE',
    ],
    [await raw('NOT HTTP AT ALL\r\n\r\n'), 400, 'VC_ERR_VALIDATION'],
  ];
  for (const [answer, status, code] of answers) {
    assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), answer.slice(0, 100));
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error, code);
    assert.equal(
      HTTP_STATUS[body.error as keyof typeof HTTP_STATUS],
      status,
      'the code maps to the status sent',
    );
  }
});

test('a route asked with a method it does not take: 405 VC_ERR_METHOD_NOT_ALLOWED with Allow; a path that is no route: 404', async () => {
  const wrong: string[] = [];
  const cases: [string, string, number, string | null][] = [
    ['PUT', '/api/jobs', 405, 'GET, HEAD, POST'],
    ['DELETE', '/api/voices', 405, 'GET, HEAD, POST'],
    ['POST', '/api/jobs/abcdefgh1234', 405, 'GET, HEAD, DELETE'],
    ['GET', '/api/webhook/secret', 405, 'POST'],
    ['PUT', '/api/no-such-route', 404, null],
    ['POST', '/no-such-page', 404, null],
  ];
  for (const [method, url, status, allow] of cases) {
    const res = await fetch(`${svc.baseUrl}${url}`, { method, headers: user.headers() });
    const body = (await res.json()) as Json;
    const got = `${res.status} ${body.error} allow=${res.headers.get('allow')}`;
    const code = status === 405 ? 'VC_ERR_METHOD_NOT_ALLOWED' : 'VC_ERR_NOT_FOUND';
    if (got !== `${status} ${code} allow=${allow}`) wrong.push(`${method} ${url}: ${got} ${body.message}`);
    if (HTTP_STATUS[body.error as keyof typeof HTTP_STATUS] !== res.status)
      wrong.push(`${method} ${url}: ${body.error} is not ${res.status} in the one map`);
  }
  assert.deepEqual(wrong, []);
});
