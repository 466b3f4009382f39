import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ApiClient, type Json, refusedUpgradeStatus } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

const ADMIN_TOKEN = 'isolation-admin-token-0123456789ab';
let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1, env: { POOL_SIZE: '1', ADMIN_TOKEN } });
});
after(async () => {
  await svc?.close();
});

test('isolation matrix: every id-taking route × owner, other user, anonymous, admin', async () => {
  const owner = await ApiClient.anonymous(svc.baseUrl);
  const other = await ApiClient.anonymous(svc.baseUrl);
  const anonymous = new ApiClient(svc.baseUrl);
  const admin = new ApiClient(svc.baseUrl, { token: ADMIN_TOKEN, userId: 'admin' });
  const otherEvents = await other.openEvents();

  // 1. The owner's upload, a completed job (with a result) and a queued one to cancel.
  const wav = await readFile(tinyWav(1, 8000));
  const uploadId = (await owner.uploadBytes(wav, 'mine.wav')).body.upload.id as string;
  const spare = (await owner.uploadBytes(wav, 'spare.wav')).body.upload.id as string;
  const done = await owner.createJob({ uploadId, outputFormat: 'wav' });
  assert.equal((await owner.waitForJob(done.id)).state, 'completed');
  const routes: [string, string, unknown?][] = [
    ['GET', `/api/uploads/${uploadId}`],
    ['GET', `/api/jobs/${done.id}`],
    ['GET', `/api/jobs/${done.id}/result`],
    ['POST', '/api/jobs', { uploadId, outputFormat: 'wav' }],
    ['DELETE', `/api/jobs/${done.id}/result`],
    ['DELETE', `/api/jobs/${done.id}`],
    ['DELETE', `/api/jobs/${done.id}/record`],
    ['DELETE', `/api/uploads/${spare}`],
  ];

  // 2. Another user gets 404 (never 403), no token 401, the admin token is no user's: 401.
  for (const [method, url, body] of routes) {
    const what = `${method} ${url}`;
    const o = await other.request(method, url, body);
    assert.equal(o.status, 404, `other user: ${what}`);
    assert.equal(o.body.error, 'VC_ERR_NOT_FOUND', what);
    const a = await anonymous.request(method, url, body);
    assert.equal(a.status, 401, `anonymous: ${what}`);
    const ad = await admin.request(method, url, body);
    assert.equal(ad.status, 401, `admin token: ${what}`);
  }
  assert.equal((await other.request('GET', '/api/jobs')).body.jobs.length, 0);
  assert.equal((await other.request('GET', '/api/workspace')).body.files.length, 0);

  // 3. The owner reaches each of them (and nothing above changed anything); the cancel of the
  // completed job is the owner's own answer, 409 VC_ERR_JOB_FINISHED: nothing to cancel.
  const expected = [200, 200, 200, 202, 204, 409, 204, 204];
  for (const [i, [method, url, body]] of routes.entries()) {
    const res = await owner.request(method, url, body);
    assert.equal(res.status, expected[i], `owner: ${method} ${url}: ${JSON.stringify(res.body)}`);
  }

  // 4. The other user's socket saw neither the owner's jobs nor their events.
  const snapshot = otherEvents.messages.find((m) => m.type === 'snapshot') as Json;
  assert.deepEqual(snapshot.jobs, []);
  assert.deepEqual(
    otherEvents.messages.filter((m) => m.type !== 'snapshot'),
    [],
  );
  otherEvents.close();
  // A socket with the admin token (no user's) or another user's job ids gets nothing: 401 before the upgrade.
  const status = await refusedUpgradeStatus(svc.baseUrl, ADMIN_TOKEN);
  assert.equal(status, 401);
});
