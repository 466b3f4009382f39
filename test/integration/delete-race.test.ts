import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// DELETE of an upload racing a POST /api/jobs that needs it: either the job is queued and the
// delete refused (409), or the upload is gone and the job refused; never a queued job whose
// upload was deleted under it (the check and the delete were two steps, a job could come between).

let svc: TestService;
before(async () => {
  // No worker: every job stays queued, so each one needs its upload for as long as the test runs.
  svc = await startService({ workers: 0 });
});
after(async () => {
  await svc?.close();
});

test('an upload deleted while a job for it is being queued: one of the two wins, never both', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const wav = await readFile(tinyWav(1, 8000));
  const outcomes = new Map<string, number>();
  for (let round = 0; round < 40; round++) {
    const up = await user.uploadBytes(wav, `r${round}.wav`);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const id = up.body.upload.id as string;
    // 1. Both at once, the delete 0-9 ms later by round, so that they meet at every step of the way.
    const [job, del] = await Promise.all([
      user.request('POST', '/api/jobs', { uploadId: id, outputFormat: 'wav', pitchSemitones: 1 }),
      new Promise((r) => setTimeout(r, round % 10)).then(() => user.request('DELETE', `/api/uploads/${id}`)),
    ]);
    const key = `job ${job.status}, delete ${del.status}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    // 2. Never both: a job queued for an upload that is gone.
    assert.ok(
      (job.status === 202 && del.status === 409) || (del.status === 204 && [404, 409].includes(job.status)),
      `round ${round}: ${key} ${JSON.stringify(job.body)} ${JSON.stringify(del.body)}`,
    );
    // 3. What the answers said is what stays: the queued job's upload is still there.
    const still = await user.request('GET', `/api/uploads/${id}`);
    assert.equal(still.status, job.status === 202 ? 200 : 404, key);
    // 4. Once its queued job is cancelled, the upload is free to delete at once.
    if (job.status === 202) {
      assert.equal((await user.request('DELETE', `/api/jobs/${job.body.job.id}`)).status, 200);
      assert.equal((await user.request('DELETE', `/api/uploads/${id}`)).status, 204, 'after the cancel');
    }
  }
  // Both ways of winning happened (else the two never met mid-way and the race went untested).
  assert.ok(outcomes.size >= 2, JSON.stringify([...outcomes]));
});
