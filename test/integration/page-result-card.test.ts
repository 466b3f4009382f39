import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { pageWithToken } from '../helpers/browser.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import type { TestService } from '../helpers/service.js';

// A finished job's card in Chromium against a real service: what it offers for the result is safe
// to use (the copyable curl line) and true (nothing is offered for a result that is gone).

let bench: PageBench;
let svc: TestService;
let browser: Browser;
let dir: string;
before(async () => {
  bench = await startPageBench('page-result-card');
  ({ svc, browser, dir } = bench);
});
after(async () => {
  await bench?.close();
});

test('the curl line of a result whose upload has a hostile name downloads it when pasted into a shell, and runs nothing else', async () => {
  const hostile = "x'; touch $HOME-PWNED; echo '.wav";
  const user = await ApiClient.anonymous(svc.baseUrl);
  // 1. A finished conversion of an upload named to break out of single quotes.
  const up = await user.uploadBytes(await readFile(espeakSentence('en-us+m3')), hostile);
  assert.equal(up.status, 201);
  assert.equal(up.body.upload.filename, hostile);
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'mp3', pitchSemitones: 2 });
  assert.equal((await user.waitForJobEnd(job.id)).state, 'completed');

  // 2. The card's curl line, as a user copies it.
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  const code = page.locator(`.job[data-job-id="${job.id}"] .job-curl code`);
  await code.waitFor({ state: 'attached', timeout: 20_000 });
  const line = (await code.textContent()) ?? '';
  await page.context().close();

  // 3. Pasted into bash in an empty folder, with HOME beside it: it downloads the result to one
  // safely named file, and `touch` never runs.
  const cwd = path.join(dir, 'paste');
  const home = path.join(dir, 'home');
  await mkdir(cwd);
  await mkdir(home);
  // Not execFileSync: the API answers curl from this process.
  await promisify(execFile)('bash', ['-c', line], { cwd, env: { PATH: process.env.PATH, HOME: home } });
  assert.equal(existsSync(`${home}-PWNED`), false, `the pasted line ran touch: ${line}`);
  assert.deepEqual(await readdir(path.dirname(home)).then((l) => l.filter((f) => f.includes('PWNED'))), []);
  const files = await readdir(cwd);
  assert.equal(files.length, 1, `one file downloaded: ${files}`);
  assert.match(files[0], /^[\p{L}\p{N}][\p{L}\p{M}\p{N}._-]*-converted\.mp3$/u);
  const res = await fetch(`${svc.baseUrl}/api/jobs/${job.id}/result`, {
    headers: { authorization: `Bearer ${user.session?.token}` },
  });
  assert.equal(res.status, 200);
  const downloaded = await readFile(path.join(cwd, files[0]));
  assert.ok(downloaded.length > 1000, `${downloaded.length} bytes`);
  assert.ok(downloaded.equals(Buffer.from(await res.arrayBuffer())), 'the file is the result');
});
