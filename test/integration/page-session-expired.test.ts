import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { pageWithToken, serviceWithBrowser } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// An anonymous session that expired is replaced by a new, empty one (the page cannot do
// otherwise): the page says so, instead of showing an empty workspace without a word.
const env = serviceWithBrowser({ workers: 0 });

/** Every anonymous session ends, as SESSION_TTL_SEC ends one: its Redis key is gone. */
async function expireSessions(): Promise<number> {
  const redis = new Redis(env.svc.redis.url);
  try {
    const keys = await redis.keys('*:session:*');
    return keys.length ? await redis.del(...keys) : 0;
  } finally {
    redis.disconnect();
  }
}

test('a page whose anonymous session expired says a new one was started; a live session shows no such notice', async () => {
  const user = await ApiClient.anonymous(env.svc.baseUrl);
  assert.equal((await user.upload(tinyWav(2))).status, 201);

  // 1. While the session lives: its upload is there, no notice.
  const live = await pageWithToken(env.browser, env.svc.baseUrl, user.session?.token ?? '');
  await live.locator('#convert').waitFor();
  assert.equal(await live.locator('#session-replaced').count(), 0);
  await live.context().close();

  // 2. The session expires; the page opened with its token learns it from the API's 401.
  assert.ok((await expireSessions()) >= 1);
  const page = await pageWithToken(env.browser, env.svc.baseUrl, user.session?.token ?? '');
  const notice = page.locator('#session-replaced');
  await notice.waitFor({ timeout: 15_000 });
  assert.match(
    (await notice.textContent()) ?? '',
    /anonymous session had expired, so a new one was started: the files, jobs and voices of the old one are no longer reachable/,
  );
  assert.equal(await notice.getAttribute('role'), 'alert');
  // And the page goes on with the new session (a different token is stored).
  const stored = await page.evaluate(() =>
    (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem(
      'vcfarm.token',
    ),
  );
  assert.ok(stored && stored !== user.session?.token, 'a new session token is stored');
  await page.context().close();
});
