import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

const MAX_DURATION_SEC = 30;
let svc: TestService;
let client: ApiClient;
let dir: string;
let listener: http.Server;
let listenerUrl: string;
const fetched: string[] = [];
/** A FIFO standing in for a secret file: anything that opens it to read is caught holding it. */
let secret: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-hostile-'));
  secret = path.join(dir, 'secret.fifo');
  execFileSync('mkfifo', [secret]);
  // A local HTTP listener that must never see a request.
  listener = http.createServer((req, res) => {
    fetched.push(req.url ?? '');
    res.end('#EXTM3U\n');
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  const plans = generousPlans();
  for (const p of Object.values(plans.plans)) p.quotas.maxDurationSec = MAX_DURATION_SEC;
  svc = await startService({
    workers: 0,
    env: { PLANS_FILE: writePlans(dir, plans), PROBE_TIMEOUT_MS: '5000', DECODE_CHECK_TIMEOUT_MS: '20000' },
  });
  client = await ApiClient.anonymous(svc.baseUrl);
});
after(async () => {
  await svc?.close();
  await new Promise((r) => listener?.close(r));
  await rm(dir, { recursive: true, force: true });
});

function ffmpeg(...args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}

/** True if some process holds the FIFO open for reading right now. */
async function secretHasReader(): Promise<boolean> {
  try {
    const fh = await open(secret, constants.O_WRONLY | constants.O_NONBLOCK);
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw err;
  }
}

async function corpus(): Promise<{ name: string; bytes: Buffer; status: number; code: string }[]> {
  const hls = (target: string) =>
    Buffer.from(
      `#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n${target}\n#EXT-X-ENDLIST\n`,
    );

  // An hour of silence: a 650 KB FLAC whose STREAMINFO claims 1 s.
  const hour = path.join(dir, 'hour.flac');
  ffmpeg('-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '3600', '-c:a', 'flac', hour);
  const hourBytes = await readFile(hour);
  const info = hourBytes.readBigUInt64BE(18);
  hourBytes.writeBigUInt64BE((info & ~((1n << 36n) - 1n)) | 8000n, 18);

  // The same hour in a FLAC that says so (caught from the header, before decoding).
  const honestHour = await readFile(hour);

  // A WAV whose data chunk claims far more than the file holds.
  const wav = await readFile(tinyWav(1, 8000));
  const lyingWav = Buffer.from(wav);
  const dataAt = lyingWav.indexOf('data');
  lyingWav.writeUInt32LE(0x7ffffff0, dataAt + 4);
  lyingWav.writeUInt32LE(0x7ffffff0 + 36, 4);

  // Absurd channel count and sample rate, patched into a valid WAV's fmt chunk.
  const manyChannels = Buffer.from(wav);
  manyChannels.writeUInt16LE(200, 22);
  const hugeRate = Buffer.from(wav);
  hugeRate.writeUInt32LE(50_000_000, 24);

  // Two audio streams in one Matroska file.
  const multi = path.join(dir, 'two-streams.mka');
  ffmpeg(
    '-i',
    tinyWav(1, 8000),
    '-i',
    tinyWav(1, 8000),
    '-map',
    '0:a',
    '-map',
    '1:a',
    '-c:a',
    'pcm_s16le',
    multi,
  );

  // An AVI carrying an HLS playlist (the known exploit hides it in a GAB2 subtitle chunk).
  const avi = path.join(dir, 'audio.avi');
  ffmpeg('-i', tinyWav(1, 8000), '-c:a', 'pcm_s16le', '-f', 'avi', avi);
  const aviBytes = await readFile(avi);
  const playlist = hls(`${listenerUrl}/from-avi.ts`);
  const gab2 = Buffer.concat([Buffer.from('GAB2\0\x02\0'), playlist]);
  const aviWithPlaylist = Buffer.concat([
    aviBytes.subarray(0, 512),
    gab2,
    aviBytes.subarray(512 + gab2.length),
  ]);

  const truncated = wav.subarray(0, 30);

  const U = 'VC_ERR_UNSUPPORTED_AUDIO';
  return [
    { name: 'passwd.m3u8', bytes: hls('file:///etc/passwd'), status: 415, code: U },
    { name: 'secret.wav', bytes: hls(`file://${secret}`), status: 415, code: U },
    { name: 'remote.m3u8', bytes: hls(`${listenerUrl}/segment.ts`), status: 415, code: U },
    {
      name: 'list.ffconcat',
      bytes: Buffer.from(`ffconcat version 1.0\nfile ${secret}\nfile /etc/passwd\n`),
      status: 415,
      code: U,
    },
    { name: 'concat.wav', bytes: Buffer.from(`concat:${secret}|/etc/passwd`), status: 415, code: U },
    { name: 'subfile.wav', bytes: Buffer.from(`subfile,,start,0,end,0,,:${secret}`), status: 415, code: U },
    { name: 'playlist.avi', bytes: aviWithPlaylist, status: 415, code: U },
    {
      name: 'beat.sbg',
      bytes: Buffer.from('-SE\nalpha: 300+10/50\nNOW alpha\n+24:00:00 alpha\n'),
      status: 415,
      code: U,
    },
    { name: 'silence.flac', bytes: hourBytes, status: 413, code: 'VC_ERR_AUDIO_TOO_LONG' },
    { name: 'hour.flac', bytes: honestHour, status: 413, code: 'VC_ERR_AUDIO_TOO_LONG' },
    { name: 'lying.wav', bytes: lyingWav, status: 415, code: U },
    { name: 'empty.wav', bytes: Buffer.alloc(0), status: 415, code: U },
    {
      name: 'notes.wav',
      bytes: Buffer.from('these are my meeting notes, not audio\n'.repeat(20)),
      status: 415,
      code: U,
    },
    { name: 'two-streams.wav', bytes: await readFile(multi), status: 415, code: U },
    { name: 'channels.wav', bytes: manyChannels, status: 415, code: U },
    { name: 'rate.wav', bytes: hugeRate, status: 415, code: U },
    { name: 'truncated.wav', bytes: truncated, status: 415, code: U },
  ];
}

test('hostile files, as uploads and as voice references: each refused with a code, nothing kept, nothing read or fetched, service up', async () => {
  const ws = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '');
  const routes = [
    { dir: path.join(ws, 'uploads'), send: (b: Buffer, n: string) => client.uploadBytes(b, n) },
    { dir: path.join(ws, 'voices'), send: (b: Buffer, n: string) => client.cloneVoiceBytes(b, n, 'hostile') },
  ];
  for (const c of await corpus()) {
    for (const route of routes) {
      const what = `${c.name} → ${path.basename(route.dir)}`;
      const started = Date.now();
      const res = await route.send(c.bytes, c.name);
      const tookMs = Date.now() - started;
      assert.equal(res.status, c.status, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, c.code, what);
      assert.ok(res.body.message.length > 0, what);
      assert.doesNotMatch(res.body.message, /root:|took longer/, what);
      // Generic words only: no server path, user id or ffmpeg's memory addresses ([hls @ 0x55…]).
      assert.doesNotMatch(
        res.body.message,
        /\/|0x[0-9a-f]{4,}|workspaces|u_[0-9a-f]{8,}/i,
        `${what}: ${res.body.message}`,
      );
      // No server path in any message (the page shows them as they are).
      assert.doesNotMatch(res.body.message, /file:|\.part\b|\/[\w.-]+\/[\w.-]+/, what);
      assert.ok(!res.body.message.includes(svc.dataDir), what);
      assert.deepEqual(await readdir(route.dir).catch(() => []), [], `${what} left files behind`);
      assert.equal(await secretHasReader(), false, `${what}: something opened the secret`);
      assert.ok(tookMs < 4000, `${what} took ${tookMs} ms (a blocked open would hit the probe timeout)`);
      assert.equal((await fetch(`${svc.baseUrl}/health`)).status, 200);
    }
  }
  assert.deepEqual(fetched, [], 'the local listener was contacted');
});

test('a hostile client file name is metadata only: the file lives under a server-chosen id', async () => {
  const res = await client.uploadBytes(
    await readFile(tinyWav(1, 8000)),
    `concat:${secret}|../../etc/passwd.wav`,
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const { id, filename } = res.body.upload;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.doesNotMatch(filename, /\//);
  const uploads = path.join(svc.dataDir, 'workspaces', client.session?.userId ?? '', 'uploads');
  assert.deepEqual((await readdir(uploads)).sort(), [id, `${id}.json`]);
  assert.equal(await secretHasReader(), false);
  assert.equal((await client.request('DELETE', `/api/uploads/${id}`)).status, 204);
});

test('bad requests: multipart with many parts or huge fields 413; bodies and fields 400 naming the field', async () => {
  const wav = await readFile(tinyWav(1, 8000));
  // Many parts of a field the route reads (a voice's name): uploads refuse any text field (400).
  const many = new FormData();
  for (let i = 0; i < 10; i++) many.append('name', `Voice ${i}`);
  many.append('file', new Blob([wav]), 'a.wav');
  const auth = { authorization: `Bearer ${client.session?.token}` };
  let res = await fetch(`${svc.baseUrl}/api/voices`, { method: 'POST', headers: auth, body: many });
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as { error: string }).error, 'VC_ERR_TOO_LARGE');

  const bigField = new FormData();
  bigField.append('note', 'x'.repeat(100_000));
  bigField.append('file', new Blob([wav]), 'a.wav');
  res = await fetch(`${svc.baseUrl}/api/uploads`, { method: 'POST', headers: auth, body: bigField });
  assert.equal(res.status, 413);

  const huge = await client.request('POST', '/api/jobs', JSON.stringify({ uploadId: 'x'.repeat(200_000) }));
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error, 'VC_ERR_TOO_LARGE');

  // [body, message, code when not VC_ERR_VALIDATION]
  const cases: [string, RegExp, string?][] = [
    ['{"uploadId": ', /^the request body is not valid JSON$/, 'VC_ERR_MALFORMED_JSON'],
    [JSON.stringify({ uploadId: 'abcdefgh12', outputFormat: 'wav', extra: 1 }), /unknown field "extra"/],
    [JSON.stringify({ uploadId: 12345678, outputFormat: 'wav' }), /^uploadId must be/],
    [
      JSON.stringify({ uploadId: 'abcdefgh12', outputFormat: 'wav', pitchSemitones: 'high' }),
      /^pitchSemitones must be/,
    ],
  ];
  for (const [body, message, code = 'VC_ERR_VALIDATION'] of cases) {
    const r = await client.request('POST', '/api/jobs', body);
    assert.equal(r.status, 400, body);
    assert.equal(r.body.error, code, body);
    assert.match(r.body.message, message);
  }
  assert.equal((await fetch(`${svc.baseUrl}/health`)).status, 200);
});
