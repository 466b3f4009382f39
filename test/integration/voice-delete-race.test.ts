import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// The voice side of the delete race (delete-race.test.ts has the upload's): DELETE of a voice
// racing a POST /api/jobs that converts to it. Either the job is queued and the delete refused
// (409), or the voice is gone and the job refused; never a queued job whose voice was deleted.

const ROUNDS = 8;
/** How much later (ms) the delete is sent than the job's POST, by round; negative: the POST is the later one. */
const LEADS_MS = [-10, 0, -5, 1, -2, 2, -1, 5];
let svc: TestService;
let user: ApiClient;
const voices: string[] = [];

before(async () => {
  svc = await startService({ workers: 1 });
  user = await ApiClient.anonymous(svc.baseUrl);
  // Each round may use its voice up: one analysed voice per round, while the worker runs.
  const reference = await readFile(humanSpeech(1));
  for (let i = 0; i < ROUNDS; i++) {
    // Sent again when a loaded machine made the intake time out (probe, arrival rate): not what this tests.
    let res = await user.cloneVoiceBytes(reference, 'reference.wav', `Voice ${i}`);
    for (let n = 0; n < 3 && /took longer|arrived slower/.test(res.body?.message ?? ''); n++)
      res = await user.cloneVoiceBytes(reference, 'reference.wav', `Voice ${i}`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    voices.push(res.body.voice.id as string);
  }
  await waitUntil(
    async () => {
      const list = (await user.request('GET', '/api/voices')).body.voices as { state: string }[];
      return list.filter((v) => v.state === 'ready').length === ROUNDS;
    },
    240_000,
    'every voice analysed',
  );
  // Then no worker: every conversion stays queued, needing its voice for as long as the test runs.
  await svc.workers[0].stop();
});
after(async () => {
  await svc?.close();
});

test('a voice deleted while a job converting to it is being queued: one of the two wins, never both', async () => {
  let up = await user.uploadBytes(await readFile(tinyWav(1, 8000)), 'source.wav');
  for (let n = 0; n < 3 && /took longer|arrived slower/.test(up.body?.message ?? ''); n++)
    up = await user.uploadBytes(await readFile(tinyWav(1, 8000)), 'source.wav');
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const uploadId = up.body.upload.id as string;
  const voicesDir = path.join(svc.dataDir, 'workspaces', user.session?.userId ?? '', 'voices');
  const outcomes = new Map<string, number>();
  for (const [round, voiceId] of voices.entries()) {
    // 1. Both at once, one of the two sent up to 10 ms after the other by round (on a quiet machine the
    //    POST, sent first, always won when only the delete was held back).
    const lead = LEADS_MS[round % LEADS_MS.length];
    const after = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
    const [job, del] = await Promise.all([
      after(-lead).then(() => user.request('POST', '/api/jobs', { uploadId, voiceId, outputFormat: 'wav' })),
      after(lead).then(() => user.request('DELETE', `/api/voices/${voiceId}`)),
    ]);
    const key = `job ${job.status}, delete ${del.status}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    // 2. Never both: a job queued for a voice that is gone.
    assert.ok(
      (job.status === 202 && del.status === 409) || (del.status === 204 && job.status === 404),
      `round ${round}: ${key} ${JSON.stringify(job.body)} ${JSON.stringify(del.body)}`,
    );
    // 3. What the answers said is what stays: the queued job's voice, and its files.
    const still = await user.request('GET', `/api/voices/${voiceId}`);
    assert.equal(still.status, job.status === 202 ? 200 : 404, key);
    const files = existsSync(voicesDir)
      ? (await readdir(voicesDir)).filter((f) => f.startsWith(voiceId))
      : [];
    assert.equal(files.length > 0, job.status === 202, `${key}: ${files.join(' ')}`);
    // 4. Once its queued job is cancelled, the voice is free to delete at once.
    if (job.status === 202) {
      assert.equal((await user.request('DELETE', `/api/jobs/${job.body.job.id}`)).status, 200);
      assert.equal((await user.request('DELETE', `/api/voices/${voiceId}`)).status, 204, 'after the cancel');
    }
  }
  // Both ways of winning happened (else the two never met mid-way and the race went untested).
  assert.ok(outcomes.size >= 2, JSON.stringify([...outcomes]));
});
