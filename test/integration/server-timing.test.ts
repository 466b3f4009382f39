import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// No workers: the jobs only need to be queued.
let timed: TestService;
let plain: TestService;

before(async () => {
  [timed, plain] = await Promise.all([
    startService({ workers: 0, env: { SERVER_TIMING: 'true' } }),
    startService({ workers: 0 }),
  ]);
});
after(async () => {
  await Promise.all([timed?.close(), plain?.close()]);
});

/** `name;dur=1.23, ...` → names in order with their durations. */
function phases(header: string | null): [string, number][] {
  assert.ok(header, 'a Server-Timing header');
  return header.split(', ').map((part) => {
    const m = /^([a-z]+);dur=([0-9]+\.[0-9]{2})$/.exec(part);
    assert.ok(m, `a phase with its duration: ${part}`);
    return [m[1], Number(m[2])];
  });
}

async function queueJob(client: ApiClient) {
  const up = await client.upload(tinyWav(1));
  assert.equal(up.status, 201);
  return client.request('POST', '/api/jobs', { uploadId: up.body.upload.id, outputFormat: 'wav' });
}

test('with SERVER_TIMING, POST /api/jobs names each phase and the total, which covers them', async () => {
  const client = await ApiClient.anonymous(timed.baseUrl);
  const res = await queueJob(client);
  assert.equal(res.status, 202);
  const list = phases(res.headers.get('server-timing'));
  assert.deepEqual(
    list.map(([name]) => name),
    ['auth', 'rate', 'space', 'parse', 'upload', 'quota', 'enqueue', 'reply', 'total'],
  );
  const total = list.at(-1)?.[1] ?? 0;
  const sum = list.slice(0, -1).reduce((n, [, ms]) => n + ms, 0);
  // The phases run one after another inside the request, so they cannot add up to more than it.
  assert.ok(sum <= total + 0.05, `phases ${sum} ms within the total ${total} ms`);
  assert.ok(total > 0);
  // Other routes behind a token carry the shared phases; an error answer carries them too.
  const get = await client.request('GET', '/api/jobs');
  assert.deepEqual(
    phases(get.headers.get('server-timing')).map(([name]) => name),
    ['auth', 'rate', 'space', 'parse', 'reply', 'total'],
  );
  const unauthorised = await fetch(`${timed.baseUrl}/api/jobs`);
  assert.equal(unauthorised.status, 401);
  assert.deepEqual(
    phases(unauthorised.headers.get('server-timing')).map(([name]) => name),
    ['auth', 'reply', 'total'],
  );
});

test('without SERVER_TIMING (the default) no answer carries the header', async () => {
  const client = await ApiClient.anonymous(plain.baseUrl);
  const res = await queueJob(client);
  assert.equal(res.status, 202);
  assert.equal(res.headers.get('server-timing'), null);
  assert.equal((await client.request('GET', '/api/jobs')).headers.get('server-timing'), null);
});
