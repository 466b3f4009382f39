import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { writePlans } from '../helpers/plans.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// The sweeper's removal of an expired upload racing a POST /api/jobs that needs it (the upload
// side of delete-race.test.ts, with the sweeper as the deleter): the sweeper read the user's jobs
// and then removed the files, so a job queued in between was left without its upload. Either the
// job is queued and the upload stays, or the upload is swept and the job refused; never both.

let svc: TestService;
let plansDir: string;
before(async () => {
  plansDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-sweeper-race-'));
  // Uploads expire after 1 s and the API's own sweeper runs every 100 ms; no worker, so a queued
  // job needs its upload for as long as the test runs.
  const plans = writePlans(plansDir, undefined, (p) => {
    for (const plan of Object.values(p.plans)) plan.ttl.uploadsSec = 1;
  });
  svc = await startService({ workers: 0, env: { PLANS_FILE: plans, SWEEP_INTERVAL_SEC: '0.1' } });
});
after(async () => {
  await svc?.close();
  await rm(plansDir, { recursive: true, force: true });
});

test("the sweeper's removal of an expired upload and a job queued for it: one of the two wins, never both", async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const wav = await readFile(tinyWav(1, 8000));
  const uploads = path.join(svc.dataDir, 'workspaces', user.session?.userId ?? '', 'uploads');
  const outcomes = new Map<string, number>();
  let waitMs = 900;
  for (let round = 0; round < 40; round++) {
    // An upload is sent again when its probe ran out of time on a loaded machine (not what this tests).
    let up = await user.uploadBytes(wav, `s${round}.wav`);
    for (let i = 0; i < 3 && /took longer|arrived slower/.test(up.body?.message ?? ''); i++)
      up = await user.uploadBytes(wav, `s${round}.wav`);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const id = up.body.upload.id as string;
    // 1. The job asked for about when the upload expires: the wait follows the boundary (longer
    //    after a job that won, shorter after a sweep that won), wherever the machine's load puts it.
    await new Promise((r) => setTimeout(r, waitMs));
    const job = await user.request('POST', '/api/jobs', { uploadId: id, outputFormat: 'wav' });
    waitMs = Math.max(0, waitMs + (job.status === 202 ? 40 : -40));
    const key = `job ${job.status}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    assert.ok([202, 404].includes(job.status), `round ${round}: ${key} ${JSON.stringify(job.body)}`);
    // 2. Sweeps go on meanwhile: what the answer said is what stays.
    await new Promise((r) => setTimeout(r, 300));
    const still = await user.request('GET', `/api/uploads/${id}`);
    assert.equal(still.status, job.status === 202 ? 200 : 404, `round ${round}: ${key}`);
    assert.equal(existsSync(path.join(uploads, id)), job.status === 202, `round ${round}: ${key}, its file`);
    if (job.status === 202)
      assert.equal((await user.request('DELETE', `/api/jobs/${job.body.job.id}`)).status, 200);
  }
  // Both ways of winning happened (else the job and the sweep never met and the race went untested).
  assert.ok(outcomes.size >= 2, JSON.stringify([...outcomes]));
});
