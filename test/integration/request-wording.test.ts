import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Refusals said in words a user can act on, not the validator's own ("must NOT have fewer than 1
// items"), and a multipart body of the wrong shape refused as its message says.
let svc: TestService;
let client: ApiClient;
before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  client = await ApiClient.anonymous(svc.baseUrl);
});
after(async () => {
  await svc?.close();
});

test('list and length checks are said in words, naming the field', async () => {
  const url = 'https://93.184.215.14/hook';
  const cases: [unknown, string][] = [
    [{ url, events: [] }, 'events must list at least 1 item'],
    [{ url, events: ['completed', 'completed'] }, 'events must not list the same item twice'],
    [
      { url, events: ['completed', 'failed', 'cancelled', 'progress', 'completed'] },
      'events must list at most 4 items',
    ],
    [{ url: 'http://' }, 'url must be at least 8 characters long'],
  ];
  for (const [body, message] of cases) {
    const res = await client.request('PUT', '/api/webhook', body);
    assert.deepEqual([res.status, res.body.error, res.body.message], [400, 'VC_ERR_VALIDATION', message]);
  }
  const long = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', {
    name: 'n'.repeat(101),
    plan: 'free',
  });
  assert.deepEqual(
    [long.status, long.body.error, long.body.message],
    [400, 'VC_ERR_VALIDATION', 'name must be at most 100 characters long'],
  );
  const all = [...cases.map(([, m]) => m), long.body.message].join('\n');
  assert.doesNotMatch(all, /NOT|##|items ##/);
});

test('an upload with two files is a 400 (its shape, not its size); nothing is kept', async () => {
  const wav = await readFile(tinyWav(1));
  const post = async (form: FormData) => {
    const res = await fetch(`${svc.baseUrl}/api/uploads`, {
      method: 'POST',
      headers: client.headers(),
      body: form,
    });
    return { status: res.status, body: (await res.json()) as { error: string; message: string } };
  };
  const two = new FormData();
  two.append('file', new Blob([wav]), 'a.wav');
  two.append('file', new Blob([wav]), 'b.wav');
  const a = await post(two);
  assert.deepEqual([a.status, a.body.error], [400, 'VC_ERR_VALIDATION']);
  assert.match(a.body.message, /send one file \(field "file"\)/);
  assert.deepEqual((await client.request('GET', '/api/workspace')).body.usage.files, 0);
  // The file alone is taken.
  const one = new FormData();
  one.append('file', new Blob([wav]), 'a.wav');
  assert.equal((await post(one)).status, 201);
});

test('a JSON body that does not parse is refused with our code and plain words, not Fastify’s', async () => {
  const cases: [string, string][] = [
    ['{"uploadId": "abc",', 'the request body is not valid JSON'],
    ['not json', 'the request body is not valid JSON'],
    ['{"__proto__": {"admin": true}}', 'the request body is not valid JSON'],
    ['', 'the request body is empty but its content type is JSON'],
  ];
  for (const [route, method] of [
    ['/api/jobs', 'POST'],
    ['/api/webhook', 'PUT'],
  ]) {
    for (const [body, message] of cases) {
      const res = await client.request(method, route, body);
      assert.deepEqual(
        [res.status, res.body.error, res.body.message],
        [400, 'VC_ERR_MALFORMED_JSON', message],
        `${method} ${route} ${JSON.stringify(body)}`,
      );
    }
  }
});
