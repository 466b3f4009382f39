import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
});

/** Redis's clock when the event was written: the ms part of its stream id. */
const writtenAt = (eventId: string | undefined) => Number(eventId?.split('-')[0]);

test('a fast job publishes progress at most every 250 ms within a stage, stage changes and first audio at once', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const events = await client.openEvents();

  // 1. About 5 min of speech, unshifted, into mp3: ffmpeg runs at about a hundred times real
  //    time (seconds of work), so its progress crosses 5 % steps faster than the events may go out.
  const up = await client.upload(humanSpeech(40));
  assert.equal(up.status, 201);
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3' });
  await events.waitFor((m) => m.jobId === job.id && m.type === 'completed', 120_000);
  const mine = events.forJob(job.id);
  events.close();

  // 2. Every stage shows, in order, each announced by its own event before its progress.
  const progress = mine
    .filter((m) => m.type === 'progress')
    .map((m) => ({
      stage: m.stage as string,
      progress: m.progress ?? 0,
      partialSec: (m.partialSec as number | undefined) ?? 0,
      eventId: m.eventId as string,
    }));
  const stages = [...new Set(progress.map((m) => m.stage))];
  assert.deepEqual(stages, ['starting', 'converting', 'finalizing']);
  for (let i = 1; i < progress.length; i++)
    assert.ok(progress[i].progress >= progress[i - 1].progress, 'progress never goes back');

  // 3. In `converting`: the stage's first event, then the first partial audio at once, then the
  //    rest at least 250 ms apart, measured on Redis's clock (150 ms of slack for one late write).
  const converting = progress.filter((m) => m.stage === 'converting');
  const firstAudio = converting.findIndex((m) => m.partialSec > 0);
  assert.ok(firstAudio >= 1, 'the stage starts before any audio is written');
  const throttled = converting.slice(firstAudio + 1);
  assert.ok(
    throttled.length >= 2,
    `the job ran long enough to show the cadence: ${converting.length} events`,
  );
  const span = writtenAt(throttled.at(-1)?.eventId) - writtenAt(converting[firstAudio].eventId);
  assert.ok(
    span >= throttled.length * 250 - 150,
    `${throttled.length} progress events after the first audio came within ${span} ms`,
  );

  // 4. The job view ends complete, as the events said.
  const view = await client.job(job.id);
  assert.equal(view.state, 'completed');
  assert.equal(view.progress, 1);
});
