import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pageWithToken } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';

let bench: PageBench;
before(async () => {
  bench = await startPageBench('page-partial');
});
after(async () => {
  await bench?.close();
});

interface Media {
  currentTime: number;
  duration: number;
  paused: boolean;
  src: string;
  play(): Promise<void>;
}

test('the page plays a long conversion while it runs, then the same player takes the finished file', async () => {
  const { svc, browser } = bench;
  const owner = await ApiClient.anonymous(svc.baseUrl);
  // ~450 s of speech through the model: long enough that an idle machine (about 10 s for it) is still
  // converting when the player has played its first second (150 s finished 49 ms too early there).
  const up = await owner.upload(humanSpeech(60));
  assert.equal(up.status, 201);
  const filename: string = up.body.upload.filename;
  const page = await pageWithToken(browser, svc.baseUrl, owner.session?.token ?? '');
  const job = await owner.createJob({
    uploadId: up.body.upload.id,
    outputFormat: 'mp3',
    voiceId: 'preset-espeak-m3',
  });

  // 1. While the job runs, its card gets a player on the partial link, as soon as output exists.
  const card = page.locator(`.job[data-job-id="${job.id}"]`);
  const audio = card.getByLabel(`${filename} result so far`, { exact: true });
  await audio.waitFor({ timeout: 90_000 });
  assert.match((await audio.getAttribute('src')) ?? '', /\/result\?exp=\d+&sig=[\w-]+&partial=1$/);

  // 2. It plays: its clock advances past a second while the job has not finished.
  await audio.evaluate((el) => (el as unknown as Media).play());
  await audio.evaluate(
    (el) =>
      new Promise<void>((resolve, reject) => {
        const media = el as unknown as Media & { addEventListener(t: string, f: () => void): void };
        const check = () => media.currentTime > 1 && resolve();
        media.addEventListener('timeupdate', check);
        setTimeout(() => reject(new Error(`currentTime ${media.currentTime}`)), 60_000);
        check();
      }),
  );
  const playingAt = Date.now();

  // 3. The job ends; the same element now plays the finished file from where it was.
  const done = await owner.waitForJobEnd(job.id);
  assert.equal(done.state, 'completed', JSON.stringify(done.error));
  assert.ok(
    playingAt < (done.finishedAt ?? 0),
    `the player was past 1 s ${(done.finishedAt ?? 0) - playingAt} ms before the job finished`,
  );
  const final = card.getByLabel(`${filename} result`, { exact: true });
  await final.waitFor({ timeout: 30_000 });
  assert.match((await final.getAttribute('src')) ?? '', /\/result\?exp=\d+&sig=[\w-]+$/);
  const state = await final.evaluate(
    (el) =>
      new Promise<{ duration: number; currentTime: number }>((resolve, reject) => {
        const media = el as unknown as Media;
        setTimeout(() => reject(new Error(`duration ${media.duration}, at ${media.currentTime}`)), 30_000);
        const poll = () =>
          Number.isFinite(media.duration) && media.duration > 0 && media.currentTime > 0
            ? resolve({ duration: media.duration, currentTime: media.currentTime })
            : setTimeout(poll, 100);
        poll();
      }),
  );
  assert.ok(Math.abs(state.duration - done.durationSec) < 1, `${state.duration} s of ${done.durationSec}`);
  assert.ok(state.currentTime > 1, `carried on at ${state.currentTime} s, not from the start`);
  await page.context().close();
});
