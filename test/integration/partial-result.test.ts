import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeFile } from '../helpers/audio-io.js';
import { ApiClient, fetchWaitingOutShed } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

/**
 * Results that play before the job ends: GET /api/jobs/:id/result?partial=1 on a real service
 * (Redis, API, worker processes with the ONNX model and ffmpeg), read by a streaming client whose
 * bytes are decoded by ffmpeg while the job still runs.
 */
let svc: TestService;
let tmp: string;
const RATE = 8000;
const VOICE = 'preset-espeak-m3';

before(async () => {
  // Two single-thread workers and short locks: the crash test's job is taken over within seconds.
  svc = await startService({
    workers: 2,
    env: { JOB_LOCK_MS: '2000', STALLED_INTERVAL_MS: '1000', POOL_SIZE: '1' },
  });
  await Promise.all(svc.workers.map((w) => w.ready));
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-partial-'));
});
after(async () => {
  await svc?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A streaming read of one response: bytes as they come, and when the body ended. */
class Follower {
  readonly chunks: Buffer[] = [];
  /** When each chunk arrived (Date.now()). */
  readonly arrivals: number[] = [];
  ended = false;
  readonly done: Promise<void>;
  private wake: () => void = () => {};

  constructor(readonly res: Response) {
    const reader = res.body?.getReader();
    assert.ok(reader, 'a body');
    this.done = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.chunks.push(Buffer.from(value));
        this.arrivals.push(Date.now());
        this.wake();
      }
      this.ended = true;
      this.wake();
    })();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The bytes that had arrived before `ms`. */
  before(ms: number): Buffer {
    return Buffer.concat(this.chunks.filter((_, i) => this.arrivals[i] < ms));
  }

  /** Resolves once at least `n` bytes arrived (or the body ended). */
  async atLeast(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.bytes.length < n && !this.ended) {
      if (Date.now() > deadline)
        throw new Error(`only ${this.bytes.length} of ${n} bytes in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 500);
      });
    }
  }
}

/** Seconds of audio ffmpeg decodes from `bytes` (written to a file named with `ext`). */
async function decodedSeconds(bytes: Buffer, ext: string): Promise<number> {
  const file = path.join(tmp, `${Math.random().toString(36).slice(2)}.${ext}`);
  await writeFile(file, bytes);
  return (await decodeFile(file, { sampleRate: RATE })).length / RATE;
}

async function uploadSpeech(client: ApiClient, repeat: number): Promise<string> {
  const up = await client.upload(humanSpeech(repeat));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return up.body.upload.id as string;
}

test('a voice conversion plays while it runs; the streamed bytes decode before the end and the final file is a plain job’s, byte for byte', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = await uploadSpeech(client, 12); // ~91 s of speech
  const settings = { uploadId, outputFormat: 'mp3', voiceId: VOICE };
  const events = await client.openEvents();

  // 1. The job's answer carries a signed link to its partial output.
  const streamed = await client.createJob(settings);
  assert.match(streamed.partialUrl ?? '', /^\/api\/jobs\/[^/]+\/result\?exp=\d+&sig=[\w-]+&partial=1$/);
  assert.equal(streamed.partialAvailable, false);

  // 2. A client with no token follows it; the request waits for the first bytes.
  const res = await fetchWaitingOutShed(svc.baseUrl, `${streamed.partialUrl}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'audio/mpeg');
  const follower = new Follower(res);

  // 3. The first bytes come while most of the input is still to be converted: the model releases audio
  // once its EQ has measured the first 10 s, not after a measurement over the first minute (the old EQ
  // span, which held it until about 70 % of this input). Progress counts input given to the model; at
  // ~91 s the EQ's span (four 2.7 s windows plus look-ahead) is about 20 % of it with the analysis' share.
  await follower.atLeast(1);
  const atFirstBytes = await client.job(streamed.id);
  assert.equal(atFirstBytes.state, 'active', 'the job still runs when its first bytes arrive');
  assert.ok(atFirstBytes.progress < 0.5, `progress ${atFirstBytes.progress} at the first partial bytes`);

  // 4. The stream follows the file to the end of the job and then ends.
  await follower.done;
  const done = await client.waitForJobEnd(streamed.id);
  events.close();
  assert.equal(done.state, 'completed', JSON.stringify(done.error));
  assert.equal(done.partialUrl, undefined);

  // 5. What had arrived before the job finished decodes to seconds of audio.
  const early = follower.before(done.finishedAt ?? 0);
  const earlySec = early.length > 0 ? await decodedSeconds(early, 'mp3') : 0;
  assert.ok(
    earlySec > 1,
    `decoded ${earlySec} s from the ${early.length} bytes that came before the job ended`,
  );
  // The live events said so too: progress with seconds written, before the end, the first of them
  // (published at the first write to the encoder) early in the conversion.
  const written = events.forJob(streamed.id).filter((m) => m.type === 'progress' && Number(m.partialSec) > 0);
  assert.ok(written.length > 0, 'progress events carry partialSec');
  const firstWrite = Number(written[0].progress);
  assert.ok(firstWrite < 0.3, `progress ${firstWrite} when the encoder was first given audio`);

  // 6. The same job without anyone following: the two results are the same bytes.
  const plain = await client.createJob(settings);
  assert.equal((await client.waitForJobEnd(plain.id)).state, 'completed');
  const a = await client.download(streamed.id);
  const b = await client.download(plain.id);
  assert.equal(a.status, 200);
  assert.ok(
    a.bytes.equals(b.bytes),
    `streamed job's result (${a.bytes.length} B) differs from the plain job's (${b.bytes.length} B)`,
  );

  // 7. Everything streamed decodes to the whole result (mp3's header frame is rewritten at the end).
  const whole = await decodedSeconds(follower.bytes, 'mp3');
  const final = await decodedSeconds(a.bytes, 'mp3');
  assert.ok(Math.abs(whole - final) < 0.1, `streamed ${whole} s, final ${final} s`);
  assert.equal(follower.bytes.length, a.bytes.length);

  // 8. The partial link of a finished job serves the finished file.
  const after = await fetchWaitingOutShed(svc.baseUrl, `${streamed.partialUrl}`);
  assert.equal(after.status, 200);
  assert.ok(Buffer.from(await after.arrayBuffer()).equals(a.bytes));
});

test('a pitch-only WAV job streams with an open-ended header that decodes mid-way', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = await uploadSpeech(client, 6); // ~45 s: a single ffmpeg
  const job = await client.createJob({ uploadId, outputFormat: 'wav', pitchSemitones: 3 });
  const res = await fetchWaitingOutShed(svc.baseUrl, `/api/jobs/${job.id}/result?partial=1`, {
    headers: client.headers(),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'audio/wav');
  const follower = new Follower(res);
  await follower.atLeast(256 * 1024);
  const head = follower.bytes;
  // RIFF and data sizes left open (0xFFFFFFFF) until the end: a reader takes "to the end of the stream".
  assert.equal(head.toString('latin1', 0, 4), 'RIFF');
  assert.equal(head.readUInt32LE(4), 0xffffffff);
  assert.ok((await decodedSeconds(head, 'wav')) > 2);
  await follower.done;
  assert.equal((await client.waitForJobEnd(job.id)).state, 'completed');
  const final = await client.download(job.id);
  // Only the header's sizes differ between what streamed and the finished file.
  assert.equal(follower.bytes.length, final.bytes.length);
  const dataAt = final.bytes.indexOf('data') + 8;
  assert.ok(dataAt > 8 && dataAt < 128, 'a data chunk');
  assert.ok(follower.bytes.subarray(dataAt).equals(final.bytes.subarray(dataAt)), 'the samples are the same');
  assert.ok(
    !follower.bytes.subarray(0, dataAt).equals(final.bytes.subarray(0, dataAt)),
    'the sizes were filled in',
  );
});

test('cancelling a followed job ends its stream cleanly', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = await uploadSpeech(client, 20); // ~150 s: still running when the cancel comes
  const job = await client.createJob({ uploadId, outputFormat: 'ogg', voiceId: VOICE });
  const res = await fetchWaitingOutShed(svc.baseUrl, `/api/jobs/${job.id}/result?partial=1`, {
    headers: client.headers(),
  });
  assert.equal(res.status, 200);
  const follower = new Follower(res);
  await follower.atLeast(1);
  const cancel = await client.request('DELETE', `/api/jobs/${job.id}`);
  assert.ok([200, 202].includes(cancel.status), JSON.stringify(cancel.body));
  // The body ends without an error (a broken stream would reject `done`).
  await follower.done;
  assert.equal((await client.waitForJobEnd(job.id)).state, 'cancelled');
  assert.ok((await decodedSeconds(follower.bytes, 'ogg')) > 0);
  // An ended job has no result and no partial one.
  const again = await client.request('GET', `/api/jobs/${job.id}/result?partial=1`);
  assert.equal(again.status, 404);
  assert.equal(again.body.error, 'VC_ERR_NOT_FOUND');
});

test('a worker killed mid-job: the stream of the dead attempt ends, and the new attempt streams from its own start', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = await uploadSpeech(client, 20); // ~150 s: long enough to kill it mid-way
  const job = await client.createJob({ uploadId, outputFormat: 'flac', voiceId: VOICE });
  const first = new Follower(
    await fetchWaitingOutShed(svc.baseUrl, `/api/jobs/${job.id}/result?partial=1`, {
      headers: client.headers(),
    }),
  );
  await first.atLeast(1);
  const victim = svc.workers.find((w) =>
    w.logs.some((l) => l.msg === 'conversion started' && l.jobId === job.id),
  );
  assert.ok(victim, 'the worker running the job');
  assert.equal((await client.job(job.id)).state, 'active', 'killed mid-conversion');
  victim.process.kill('SIGKILL');

  // 1. The first stream ends once the job leaves the dead attempt (stalled, then attempt 2).
  await first.done;
  // 2. A new read waits for the current attempt's file and follows it from its first byte to the job's end.
  const second = new Follower(
    await fetchWaitingOutShed(svc.baseUrl, `/api/jobs/${job.id}/result?partial=1`, {
      headers: client.headers(),
    }),
  );
  await second.done;
  assert.equal((await client.waitForJobEnd(job.id)).state, 'completed');
  const final = await client.download(job.id);
  assert.equal(second.bytes.length, final.bytes.length, 'the whole of attempt 2, not attempt 1 leftovers');
  const streamed = await decodedSeconds(second.bytes, 'flac');
  const finished = await decodedSeconds(final.bytes, 'flac');
  assert.ok(Math.abs(streamed - finished) < 0.1, `streamed ${streamed} s, final ${finished} s`);
  assert.ok(survivorRan(job.id, victim), 'the other worker finished it');
});

function survivorRan(jobId: string, victim: unknown): boolean {
  return svc.workers.some(
    (w) => w !== victim && w.logs.some((l) => l.msg === 'conversion completed' && l.jobId === jobId),
  );
}

test('partial links follow the result route’s rules: owner only, signature checked, `partial=1` only', async () => {
  const owner = await ApiClient.anonymous(svc.baseUrl);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const uploadId = await uploadSpeech(owner, 1);
  const job = await owner.createJob({ uploadId, outputFormat: 'mp3', pitchSemitones: 2 });
  const url = job.partialUrl ?? '';
  // Another user's token: the job does not exist for them.
  const stranger = await other.request('GET', `/api/jobs/${job.id}/result?partial=1`);
  assert.equal(stranger.status, 404);
  assert.equal(stranger.body.error, 'VC_ERR_NOT_FOUND');
  // An altered signature: 403, with no path in the message.
  const forged = await fetchWaitingOutShed(
    svc.baseUrl,
    `${url.replace(/sig=([\w-])/, (_m, c) => `sig=${c === 'A' ? 'B' : 'A'}`)}`,
  );
  assert.equal(forged.status, 403);
  const body = (await forged.json()) as { error: string; message: string };
  assert.equal(body.error, 'VC_ERR_FORBIDDEN');
  assert.doesNotMatch(body.message, /\//);
  // Only `1` is a partial request.
  const bad = await owner.request('GET', `/api/jobs/${job.id}/result?partial=yes`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'VC_ERR_VALIDATION');
  await owner.waitForJobEnd(job.id);
});
