import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pageWithToken, serviceWithBrowser } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';

// No worker: the clone is accepted (201) and stays queued, which is all the form waits for.
const env = serviceWithBrowser({ workers: 0 });

test('the clone form empties name and file once a clone is accepted, and keeps them after a refusal', async () => {
  const user = await ApiClient.anonymous(env.svc.baseUrl);
  const page = await pageWithToken(env.browser, env.svc.baseUrl, user.session?.token ?? '');
  const ownVoices = async () => (await user.request('GET', '/api/voices')).body.voices.length as number;
  const before = await ownVoices();

  // 1. A file that is not audio is refused: name and file stay to be corrected.
  const notAudio = path.join(os.tmpdir(), `not-audio-${process.pid}.wav`);
  await writeFile(notAudio, 'this is text, not a recording');
  await page.fill('#voice-name', 'Kept name');
  await page.setInputFiles('#voice-file', notAudio);
  await page.click('#clone-submit');
  await page.locator('#clone-status.error').waitFor();
  assert.equal(await page.inputValue('#voice-name'), 'Kept name');
  assert.equal(
    await page.locator('#voice-file').evaluate((el) => (el as { files: unknown[] }).files.length),
    1,
  );

  // 2. A real reference is accepted: the form is empty again and the status follows the clone.
  await page.fill('#voice-name', 'Morning voice');
  await page.setInputFiles(
    '#voice-file',
    espeakSentence('en-us+f3', 'A reference voice, read slowly for a few seconds.'),
  );
  await page.click('#clone-submit');
  await page.locator('#clone-status', { hasText: 'Morning voice' }).waitFor();
  assert.equal(await page.inputValue('#voice-name'), '');
  assert.equal(
    await page.locator('#voice-file').evaluate((el) => (el as { files: unknown[] }).files.length),
    0,
  );
  assert.equal(await ownVoices(), before + 1);

  // 3. Clone pressed again: the empty required fields stop the form, no second voice is made.
  assert.equal(
    await page.locator('#clone-form').evaluate((f) => (f as { checkValidity(): boolean }).checkValidity()),
    false,
  );
  await page.click('#clone-submit');
  await page.waitForTimeout(500);
  assert.equal(await ownVoices(), before + 1, 'no duplicate voice');
});
