import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ApiClient, type Json } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Range on the stored-audio routes (one function serves them all: an upload's original here), read
// against RFC 9110: a valid range is served (206), a valid one past the end refused (416 with the
// size), and an invalid one (14.1.1: last below first, not a range at all) ignored: the whole file, 200.
let svc: TestService;
let user: ApiClient;
let url: string;
let file: Buffer;
before(async () => {
  svc = await startService({ workers: 0 });
  user = await ApiClient.anonymous(svc.baseUrl);
  file = await readFile(tinyWav(1, 8000));
  const up = await user.uploadBytes(file, 'range.wav');
  assert.equal(up.status, 201, JSON.stringify(up.body));
  url = `${svc.baseUrl}/api/uploads/${up.body.upload.id}/audio`;
});
after(async () => {
  await svc?.close();
});

const get = (range: string) => fetch(url, { headers: user.headers({ range }) });

test('a valid range is served as 206 with its Content-Range', async () => {
  for (const [range, first, last] of [
    ['bytes=100-1099', 100, 1099],
    ['bytes=100-', 100, file.length - 1],
    ['bytes=-500', file.length - 500, file.length - 1],
    // A last past the end is cut to the end (14.1.2), not refused.
    [`bytes=0-${file.length + 1000}`, 0, file.length - 1],
  ] as const) {
    const res = await get(range);
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('accept-ranges'), 'bytes', range);
    assert.equal(res.headers.get('content-range'), `bytes ${first}-${last}/${file.length}`, range);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), file.subarray(first, last + 1), range);
  }
});

test('an invalid Range (last below first, or no range at all) is ignored: the whole file, 200', async () => {
  for (const range of [
    'bytes=500-100',
    'bytes=1-0',
    `bytes=99999999999999999999-${file.length}`,
    'bytes=0-10, 500-100',
    'bytes=',
    'bytes=abc',
    'bytes=1-2-3',
    'bytes=--',
  ]) {
    const res = await get(range);
    assert.equal(res.status, 200, range);
    assert.equal(res.headers.get('content-range'), null, range);
    assert.equal(res.headers.get('accept-ranges'), 'bytes', range);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), file, range);
  }
});

test('a valid range that starts past the end is 416, with the size in Content-Range', async () => {
  for (const range of [
    `bytes=${file.length}-`,
    'bytes=99999999-',
    `bytes=${file.length}-${file.length + 9}`,
    'bytes=-0',
  ]) {
    const res = await get(range);
    assert.equal(res.status, 416, range);
    assert.equal(res.headers.get('content-range'), `bytes */${file.length}`, range);
    assert.equal(((await res.json()) as Json).error, 'VC_ERR_RANGE_NOT_SATISFIABLE', range);
  }
});
