import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseDisposition } from 'content-disposition';
import { median, yinPitch } from '../helpers/audio-metrics.js';
import { ApiClient } from '../helpers/client.js';
import { decodePcm, durationOf, espeakSentence, humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
});

async function saveResult(bytes: Buffer, name: string): Promise<string> {
  const file = path.join(os.tmpdir(), `vcfarm-test-${process.pid}-${name}`);
  await writeFile(file, bytes);
  return file;
}

test('real speech: upload → job → live progress over WebSocket → download; +4 semitones raises pitch ~26%', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const events = await client.openEvents();
  const source = humanSpeech(2);

  // 1. Upload: probed, stored in the user's workspace.
  const up = await client.upload(source);
  assert.equal(up.status, 201);
  assert.equal(up.body.upload.filename, path.basename(source));
  assert.ok(Math.abs(up.body.upload.durationSec - durationOf(source)) < 0.01);

  // 2. Two jobs on the same upload: unshifted and +4 semitones.
  const plain = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  const shifted = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'wav',
    pitchSemitones: 4,
  });
  assert.equal(shifted.state, 'queued');

  // 3. Both complete, announced over the socket after a stream of rising progress events.
  for (const job of [plain, shifted]) {
    await events.waitFor((m) => m.type === 'completed' && m.jobId === job.id);
    const progress = events.forJob(job.id).filter((m) => m.type === 'progress');
    assert.ok(progress.length >= 2, `expected progress events, got ${progress.length}`);
    for (let i = 1; i < progress.length; i++)
      assert.ok((progress[i].progress ?? 0) >= (progress[i - 1].progress ?? 0));
    const view = await client.job(job.id);
    assert.equal(view.state, 'completed');
    assert.equal(view.progress, 1);
  }
  events.close();

  // 4. Download both; durations match the input within 1%; pitch rises by 2^(4/12) within 5%.
  const files: string[] = [];
  for (const job of [plain, shifted]) {
    const res = await client.download(job.id);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    // Read as RFC 6266 defines it: a plain name may come as a token or a quoted string.
    const disposition = parseDisposition(res.headers.get('content-disposition') ?? '');
    assert.equal(disposition.type, 'attachment');
    assert.equal(disposition.parameters.filename, 'human-speech-x2-converted.wav');
    const file = await saveResult(res.bytes, `${job.id}.wav`);
    files.push(file);
    const d = durationOf(file);
    assert.ok(Math.abs(d - durationOf(source)) / durationOf(source) < 0.01, `duration ${d}`);
  }
  const f0Plain = median(yinPitch(decodePcm(files[0], 16000), 16000));
  const f0Shifted = median(yinPitch(decodePcm(files[1], 16000), 16000));
  const ratio = f0Shifted / f0Plain;
  assert.ok(
    Math.abs(ratio / 2 ** (4 / 12) - 1) < 0.05,
    `median F0 ${f0Plain.toFixed(1)} → ${f0Shifted.toFixed(1)} Hz, ratio ${ratio.toFixed(3)}`,
  );
});

test('an espeak-ng sentence converts to mp3 with the right length', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const source = espeakSentence('en-us+f3');
  const up = await client.upload(source);
  assert.equal(up.status, 201);
  const job = await client.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'mp3',
    pitchSemitones: -3,
    priority: 'high',
  });
  const done = await client.waitForJob(job.id);
  assert.equal(done.state, 'completed', JSON.stringify(done.error));
  const res = await client.download(job.id);
  assert.equal(res.headers.get('content-type'), 'audio/mpeg');
  const file = await saveResult(res.bytes, `${job.id}.mp3`);
  // mp3 adds up to one frame of padding (~26 ms at 44.1 kHz) plus encoder delay.
  assert.ok(
    Math.abs(durationOf(file) - durationOf(source)) < 0.08,
    `${durationOf(file)} vs ${durationOf(source)}`,
  );

  const list = await client.request('GET', '/api/jobs');
  assert.deepEqual(
    list.body.jobs.map((j: { id: string }) => j.id),
    [job.id],
  );
});
