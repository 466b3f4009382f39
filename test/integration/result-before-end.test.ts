import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

// A job's result asked for before the job has ended is a 409 VC_ERR_JOB_NOT_FINISHED naming the
// job's state (not a 404, which would read as "gone"); once the job ended without a result, 404.

let svc: TestService;
before(async () => {
  // No worker yet: the job waits in the queue until the test starts one.
  svc = await startService({ workers: 0 });
});
after(async () => {
  await svc?.close();
});

const VOICE = 'preset-espeak-m3';

test('the result of a queued job, then of the same job running: 409 with its state; cancelled: 404', async () => {
  const owner = await ApiClient.anonymous(svc.baseUrl);
  const stranger = await ApiClient.anonymous(svc.baseUrl);
  // 1. ~91 s of speech toward a preset: minutes of model work on this machine, so it is still
  //    running when asked below, and cancelled then.
  const up = await owner.upload(humanSpeech(12));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const made = await owner.request('POST', '/api/jobs', {
    uploadId: up.body.upload.id,
    outputFormat: 'mp3',
    voiceId: VOICE,
  });
  assert.equal(made.status, 202, JSON.stringify(made.body));
  const id = made.body.job.id as string;
  assert.equal((await owner.job(id)).state, 'queued');

  // 2. Queued: the result and its removal both say so.
  for (const method of ['GET', 'DELETE']) {
    const r = await owner.request(method, `/api/jobs/${id}/result`);
    assert.equal(r.status, 409, `${method}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, 'VC_ERR_JOB_NOT_FINISHED');
    assert.match(
      r.body.message,
      new RegExp(`^job ${id} is queued: its result can be fetched once it has completed`),
    );
  }
  // Another user learns nothing of it: the same 404 as for a job that does not exist.
  const foreign = await stranger.request('GET', `/api/jobs/${id}/result`);
  assert.equal(foreign.status, 404);
  assert.equal(foreign.body.error, 'VC_ERR_NOT_FOUND');

  // 3. Running: a worker takes it.
  const worker = svc.startWorker();
  await worker.ready;
  await owner.waitForState(id, 'active', 120_000);
  const running = await owner.request('GET', `/api/jobs/${id}/result`);
  assert.equal(running.status, 409, JSON.stringify(running.body));
  assert.equal(running.body.error, 'VC_ERR_JOB_NOT_FINISHED');
  assert.match(running.body.message, new RegExp(`^job ${id} is active \\(converting\\): `));
  // The job itself was still running when answered: the answer was not a race with its end.
  assert.equal((await owner.job(id)).state, 'active');

  // 4. Cancelled: it ended without a result, which is a 404 for good.
  const cancel = await owner.request('DELETE', `/api/jobs/${id}`);
  assert.ok([200, 202].includes(cancel.status), JSON.stringify(cancel.body));
  assert.equal((await owner.waitForJobEnd(id)).state, 'cancelled');
  const ended = await owner.request('GET', `/api/jobs/${id}/result`);
  assert.equal(ended.status, 404, JSON.stringify(ended.body));
  assert.equal(ended.body.error, 'VC_ERR_NOT_FOUND');
});
