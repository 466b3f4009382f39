import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { JobEventLog } from '../../src/progress/index.js';
import { ConversionQueue } from '../../src/queue/index.js';
import { closeRedis, openRedis } from '../../src/redis/index.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { startService, type TestService } from '../helpers/service.js';

// A job view pairs two Redis reads: the job object, then its state. When the job finishes between
// them (a cancel that a worker turns into a failure coded VC_ERR_CANCELLED), the fresh 'failed'
// state met an object read before it failed (no failedReason, no finishedOn) and the view said
// `failed` with no error. This drives that interleaving for certain: the first read is made, the
// job is cancelled and the worker fails it for real, and only then does the state read happen.

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
});

test("a job that ends between the view's two reads shows as it ended (cancelled, with its error)", async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const userId = user.session?.userId ?? '';
  const long = path.join(svc.dataDir, 'long.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '40', '-i', humanSpeech(1), '-ac', '1', long]);
  const up = await user.upload(long);
  assert.equal(up.status, 201);
  const events = await user.openEvents();
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 3 });
  await events.waitFor((m) => m.type === 'progress' && m.jobId === job.id, 60_000);

  // The API's ConversionQueue class on the service's Redis and prefix, an instance of the test's
  // own: only its BullMQ Queue's getJob is wrapped, so nothing in the service meets the seam.
  const config = loadConfig(svc.env);
  const redis = openRedis(svc.redis.url, {});
  const queue = new ConversionQueue(redis, new JobEventLog(redis, config.redisPrefix), {
    redisUrl: svc.redis.url,
    prefix: config.redisPrefix,
    dataDir: svc.dataDir,
    attempts: config.jobAttempts,
  });
  try {
    const getJob = queue.queue.getJob.bind(queue.queue);
    let staleRead = false;
    queue.queue.getJob = async (id: string) => {
      queue.queue.getJob = getJob;
      // 1. The first read: the job as it runs, no finishedOn.
      const stale = await getJob(id);
      assert.equal(stale?.finishedOn, undefined, 'read while running');
      staleRead = true;
      // 2. It is cancelled (through the service) and the worker fails it as cancelled.
      const cancel = await user.request('DELETE', `/api/jobs/${id}`);
      assert.ok([200, 202].includes(cancel.status), JSON.stringify(cancel.body));
      await waitUntil(async () => (await getJob(id))?.finishedOn !== undefined, 30_000, 'the job to end');
      // 3. The view now reads the state ('failed') with the object from step 1.
      return stale;
    };
    const view = await queue.get(userId, job.id);
    assert.ok(staleRead, 'the view went through the seam');
    assert.equal(view.state, 'cancelled', JSON.stringify(view));
    assert.equal(view.error?.code, 'VC_ERR_CANCELLED', JSON.stringify(view));
    assert.ok(view.finishedAt, 'with the time it ended');
    // The service agrees once the reads no longer straddle the change.
    assert.equal((await user.job(job.id)).state, 'cancelled');
  } finally {
    events.close();
    await queue.close();
    await closeRedis(redis);
  }
});
