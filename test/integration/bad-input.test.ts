import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseDisposition } from 'content-disposition';
import { ApiClient, type Json } from '../helpers/client.js';
import { humanSpeech, speechClip } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

const execFileAsync = promisify(execFile);
const MAX_BYTES = 256 * 1024;
let svc: TestService;
let client: ApiClient;
before(async () => {
  svc = await startService({ workers: 1, env: { UPLOAD_MAX_BYTES: String(MAX_BYTES) } });
  client = await ApiClient.anonymous(svc.baseUrl);
});
after(async () => {
  await svc?.close();
});

async function uploadsLeft(c: ApiClient): Promise<string[]> {
  return readdir(path.join(svc.dataDir, 'workspaces', c.session?.userId ?? '', 'uploads')).catch(() => []);
}

async function assertServing(): Promise<void> {
  const res = await fetch(`${svc.baseUrl}/health`);
  assert.equal(res.status, 200);
}

test('non-audio, empty and oversize uploads are refused with a code and leave nothing', async () => {
  const cases: { name: string; bytes: Uint8Array; status: number; code: string }[] = [
    {
      name: 'notes.wav',
      bytes: new TextEncoder().encode('this is not audio at all\n'.repeat(50)),
      status: 415,
      code: 'VC_ERR_UNSUPPORTED_AUDIO',
    },
    { name: 'empty.wav', bytes: new Uint8Array(0), status: 415, code: 'VC_ERR_UNSUPPORTED_AUDIO' },
    { name: 'big.wav', bytes: await readFile(humanSpeech(1)), status: 413, code: 'VC_ERR_TOO_LARGE' },
    {
      name: 'random.mp3',
      bytes: new Uint8Array(4096).map((_, i) => (i * 7919) % 251),
      status: 415,
      code: 'VC_ERR_UNSUPPORTED_AUDIO',
    },
  ];
  for (const c of cases) {
    const res = await client.uploadBytes(c.bytes, c.name);
    assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, c.code, c.name);
    assert.equal(typeof res.body.message, 'string');
    assert.deepEqual(await uploadsLeft(client), [], `${c.name} left files behind`);
  }
  await assertServing();
});

test('an upload or a voice with two files is refused in words a user can act on, leaving nothing', async () => {
  const wav = await readFile(tinyWav(4));
  for (const route of ['/api/uploads', '/api/voices']) {
    const form = new FormData();
    if (route === '/api/voices') form.append('name', 'Two files');
    form.append('file', new Blob([wav]), 'a.wav');
    form.append('file', new Blob([wav]), 'b.wav');
    const res = await fetch(`${svc.baseUrl}${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.session?.token}` },
      body: form,
    });
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(res.status, 400, `${route}: ${JSON.stringify(body)}`);
    assert.equal(body.error, 'VC_ERR_VALIDATION');
    assert.match(body.message, /send one file \(field "file"\)/, route);
  }
  assert.deepEqual(await uploadsLeft(client), []);
  assert.deepEqual((await client.request('GET', '/api/voices')).body.voices, []);
  await assertServing();
});

test('an upload with a text field, before or after its file, is refused naming the field, leaving nothing', async () => {
  const wav = await readFile(tinyWav(4));
  for (const order of ['before', 'after']) {
    const form = new FormData();
    if (order === 'before') form.append('title', 'my take');
    form.append('file', new Blob([wav]), 'a.wav');
    if (order === 'after') form.append('title', 'my take');
    const res = await fetch(`${svc.baseUrl}/api/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.session?.token}` },
      body: form,
    });
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(res.status, 400, `${order}: ${JSON.stringify(body)}`);
    assert.deepEqual(body, {
      error: 'VC_ERR_VALIDATION',
      message: 'unknown multipart field "title": this route takes only a file field "file"',
    });
  }
  assert.deepEqual(await uploadsLeft(client), []);
  // The file alone is taken as before (and removed again: the tests after this one count what is left).
  const ok = await client.uploadBytes(wav, 'a.wav');
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal((await client.request('DELETE', `/api/uploads/${ok.body.upload.id}`)).status, 204);
  assert.deepEqual(await uploadsLeft(client), []);
  await assertServing();
});

test('a file name with double quotes is kept as the user named it, as browsers (FormData) and curl send it', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const name = 'say "hi".wav';
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'vcfarm-quote-')), name);
  await writeFile(file, await readFile(tinyWav(4)));
  // 1. The WHATWG FormData encoder (Node's fetch; Chromium's is the same standard) sends %22.
  const form = new FormData();
  form.append('file', new Blob([await readFile(file)]), name);
  const viaForm = await fetch(`${svc.baseUrl}/api/uploads`, {
    method: 'POST',
    headers: user.headers(),
    body: form,
  });
  // 2. curl -F file=@"say \"hi\".wav" (7.81 and later percent-encode it too).
  // (Asynchronously: the API listens in this process.)
  const viaCurl = await execFileAsync(
    'curl',
    [
      '-sS',
      '-H',
      `authorization: Bearer ${user.session?.token}`,
      '-F',
      `file=@"${file.replaceAll('"', '\\"')}"`,
      `${svc.baseUrl}/api/uploads`,
    ],
    { encoding: 'utf8' },
  ).then((r) => r.stdout);
  for (const [how, body] of [
    ['FormData', (await viaForm.json()) as Json],
    ['curl', JSON.parse(viaCurl) as Json],
  ] as const) {
    assert.equal(body.upload?.filename, name, `${how}: ${JSON.stringify(body)}`);
    const got = await user.request('GET', `/api/uploads/${body.upload.id}`);
    assert.equal(got.body.upload.filename, name, how);
    // And the original comes back under that name.
    const audio = await fetch(
      got.body.audioUrl.startsWith('http') ? got.body.audioUrl : `${svc.baseUrl}${got.body.audioUrl}`,
    );
    assert.equal(audio.status, 200);
    assert.equal(
      parseDisposition(audio.headers.get('content-disposition') ?? '').parameters.filename,
      name,
      how,
    );
  }
});

/** Where the service keeps this client's upload `id` (to damage it as a disk fault would). */
function storedUpload(id: string): string {
  return path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'uploads', id);
}

test('an upload that passes the probe but cannot be decoded fails for good, with a code', async () => {
  // A FLAC header with its audio frames replaced by noise: ffprobe reads the header, decoding yields nothing.
  const dir = await import('node:fs/promises').then((fs) =>
    fs.mkdtemp(path.join(os.tmpdir(), 'vcfarm-bad-')),
  );
  const flac = path.join(dir, 'broken.flac');
  speechClip(flac, 2, '-c:a', 'flac');
  const bytes = await readFile(flac);
  for (let i = 8192; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  bytes.fill(0xff, 42 + 34, 8192); // break the first frames' sync as well
  // 1. Uploaded as is, the upload-time decode pass refuses it and keeps nothing.
  await writeFile(flac, bytes);
  const refused = await client.upload(flac);
  assert.equal(refused.status, 415, JSON.stringify(refused.body));
  assert.equal(refused.body.error, 'VC_ERR_UNSUPPORTED_AUDIO');
  assert.deepEqual(await uploadsLeft(client), []);
  // 2. The same damage done to a stored upload (as a disk fault would) fails its job for good.
  speechClip(flac, 2, '-c:a', 'flac');
  const up = await client.upload(flac);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const stored = storedUpload(up.body.upload.id);
  await writeFile(stored, bytes);
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  const done = await client.waitForJob(job.id);
  assert.equal(done.state, 'failed');
  assert.equal(done.error?.code, 'VC_ERR_UNDECODABLE_AUDIO');
  assert.equal(done.attempts, 1, 'no pointless retries');
  const outputs = await readdir(
    path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'outputs'),
  );
  assert.deepEqual(outputs, []);
});

test('a PCM WAV whose stored header was damaged fails its voice conversion for good, leaving nothing', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-bad-'));
  const wav = speechClip(path.join(dir, 'speech.wav'), 2, '-ar', '24000', '-c:a', 'pcm_s16le');
  const up = await client.upload(wav);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const stored = storedUpload(up.body.upload.id);
  // 1. A healthy WAV converts: the worker reads it in-process.
  const ok = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    voiceId: 'preset-espeak-f3',
  });
  assert.equal((await client.waitForJob(ok.id)).state, 'completed');
  // 2. The same file with a block align that contradicts its format (as a disk fault would leave it).
  const bytes = await readFile(stored);
  bytes.writeUInt16LE(3, 32);
  await writeFile(stored, bytes);
  const job = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'mp3',
    voiceId: 'preset-espeak-f3',
  });
  const done = await client.waitForJob(job.id);
  assert.equal(done.state, 'failed');
  assert.equal(done.error?.code, 'VC_ERR_UNDECODABLE_AUDIO');
  assert.match(done.error?.message ?? '', /block align 3/);
  assert.doesNotMatch(done.error?.message ?? '', /\/|workspaces/, 'no server path in the message');
  assert.equal(done.attempts, 1, 'no pointless retries');
  const outputs = await readdir(
    path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'outputs'),
  );
  assert.deepEqual(
    outputs.filter((f) => f.includes(job.id)),
    [],
  );
  await assertServing();
});

test('bad job requests get 400 naming the field, unknown or foreign uploads 404, no token 401', async () => {
  const up = await client.upload(humanSpeech(1).replace('x1', 'x1'));
  // The fixture is larger than this service's limit; make a small valid file instead.
  assert.equal(up.status, 413);
  const small = path.join(os.tmpdir(), `vcfarm-small-${process.pid}.wav`);
  speechClip(small, 1, '-ar', '16000');
  const ok = await client.upload(small);
  assert.equal(ok.status, 201);
  const uploadId = ok.body.upload.id as string;

  const bad: [unknown, RegExp][] = [
    [{ outputFormat: 'wav' }, /uploadId is required/],
    [{ uploadId, outputFormat: 'mp4' }, /outputFormat must be one of/],
    [{ uploadId, outputFormat: 'wav', pitchSemitones: 99 }, /pitchSemitones/],
    [{ uploadId, outputFormat: 'wav', pitchSemitones: '3' }, /pitchSemitones/],
    [{ uploadId, outputFormat: 'wav', priority: 'urgent' }, /priority/],
    [{ uploadId, outputFormat: 'wav', shell: 'rm -rf /' }, /unknown field "shell"/],
    [{ uploadId: '../../etc/passwd', outputFormat: 'wav' }, /uploadId/],
    ['{"uploadId": ', /^the request body is not valid JSON$/],
  ];
  for (const [body, message] of bad) {
    const res = await client.request('POST', '/api/jobs', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    // A body that is not JSON at all has its own code; one that is, refused by the schema, the schema's.
    assert.equal(res.body.error, typeof body === 'string' ? 'VC_ERR_MALFORMED_JSON' : 'VC_ERR_VALIDATION');
    assert.match(res.body.message, message);
  }

  const unknown = await client.request('POST', '/api/jobs', {
    uploadId: '00000000-0000-4000-8000-000000000000',
    outputFormat: 'wav',
  });
  assert.equal(unknown.status, 404);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const foreign = await other.request('POST', '/api/jobs', { uploadId, outputFormat: 'wav' });
  assert.equal(foreign.status, 404);
  assert.equal(foreign.body.error, 'VC_ERR_NOT_FOUND');

  const job = await client.createJob({ uploadId, outputFormat: 'wav' });
  assert.equal((await other.request('GET', `/api/jobs/${job.id}`)).status, 404);
  assert.equal((await other.request('DELETE', `/api/jobs/${job.id}`)).status, 404);
  assert.equal((await other.download(job.id)).status, 404);

  const anonymous = new ApiClient(svc.baseUrl);
  for (const [method, url] of [
    ['GET', '/api/jobs'],
    ['POST', '/api/uploads'],
    ['GET', `/api/jobs/${job.id}`],
  ]) {
    const res = await anonymous.request(method, url);
    assert.equal(res.status, 401, `${method} ${url}`);
    assert.equal(res.body.error, 'VC_ERR_UNAUTHORIZED');
  }
  await client.waitForJob(job.id);
  await assertServing();
});
