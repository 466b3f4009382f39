import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pageWithToken } from '../helpers/browser.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { type PageBench, startPageBench } from '../helpers/page-bench.js';
import { CLI } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Presets of a model other than `default`, as an operator adds one (a copy of the default's folder
// with a preset of its own): the page lists each preset once, keyed by (model, id), and the page
// and the CLI name the preset's model in the job they ask for.

const DEFAULT_DIR = fileURLToPath(new URL('../../../models/default', import.meta.url));
let bench: PageBench;
let models: string;
before(async () => {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-models-'));
  models = path.join(scratch, 'models');
  await mkdir(models);
  await cp(DEFAULT_DIR, path.join(models, 'default'), { recursive: true });
  await cp(DEFAULT_DIR, path.join(models, 'copy2'), { recursive: true });
  const f1 = JSON.parse(await readFile(path.join(DEFAULT_DIR, 'voices', 'espeak-f1.json'), 'utf8'));
  await writeFile(
    path.join(models, 'copy2', 'voices', 'zed.json'),
    JSON.stringify({ ...f1, displayName: 'Zed' }),
  );
  bench = await startPageBench('model-presets', { MODELS_DIR: models });
});
after(async () => {
  await bench?.close();
  if (models) await rm(path.dirname(models), { recursive: true, force: true });
});

test('the page lists every preset of both models once and converts with a second model’s preset', async () => {
  const { svc, browser } = bench;
  const user = await ApiClient.anonymous(svc.baseUrl);
  const presets = (await user.request('GET', '/api/voices')).body.presets as Json[];
  const ofModel = (m: string) => presets.filter((p) => p.model === m).map((p) => p.id as string);
  assert.ok(ofModel('copy2').includes('preset-zed'));
  assert.ok(ofModel('copy2').includes('preset-espeak-f1') && ofModel('default').includes('preset-espeak-f1'));

  // 1. One option per preset, no value twice (both models have a preset-espeak-f1).
  const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
  await page.locator('#voice option[value="copy2/preset-zed"]').waitFor({ state: 'attached' });
  const values = await page
    .locator('#voice option')
    .evaluateAll((os) => os.map((o) => o.getAttribute('value')));
  assert.equal(new Set(values).size, values.length, `duplicate option values: ${values.join(', ')}`);
  assert.equal(values.filter((v) => v?.includes('preset-')).length, presets.length);
  assert.match(
    (await page.locator('#voice option[value="copy2/preset-zed"]').textContent()) ?? '',
    /^Preset: Zed — /,
  );

  // 2. The second model's preset of the id the default model has too: the job names copy2.
  await page.setInputFiles('#file', espeakSentence('en-us+m3'));
  await page.selectOption('#voice', 'copy2/preset-espeak-f1');
  await page.selectOption('#format', 'wav');
  await page.click('#submit');
  let jobs: Json[] = [];
  for (const deadline = Date.now() + 30_000; jobs.length === 0 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 200));
    jobs = (await user.request('GET', '/api/jobs')).body.jobs;
  }
  assert.equal(jobs.length, 1, `the page made no job: ${await page.locator('#status').textContent()}`);
  const done = await user.waitForJob(jobs[0].id);
  assert.equal(done.state, 'completed');
  assert.deepEqual([done.voiceId, done.model], ['preset-espeak-f1', 'copy2']);
  await page.context().close();
});

function cli(args: string[], home: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, VCFARM_URL: bench.svc.baseUrl, XDG_CONFIG_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b;
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b;
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

test('the CLI converts with a second model’s preset by its name, and asks for --model when two models share it', async () => {
  const home = path.join(path.dirname(models), 'home');
  const out = path.join(path.dirname(models), 'out');
  // 1. "Zed" is copy2's only: found, and the job names copy2.
  const zed = await cli(['convert', tinyWav(1), '--voice', 'Zed', '--out', out, '--json'], home);
  assert.equal(zed.code, 0, zed.stderr);
  const [outcome] = JSON.parse(zed.stdout);
  assert.equal(outcome.state, 'completed');
  const shown = JSON.parse((await cli(['jobs', 'show', outcome.jobId, '--json'], home)).stdout);
  assert.deepEqual([shown.voiceId, shown.model], ['preset-zed', 'copy2']);
  // 2. "espeak-f1" is a preset of both models: a usage error naming them, nothing sent.
  const both = await cli(['convert', tinyWav(1), '--voice', 'espeak-f1', '--out', `${out}-2`], home);
  assert.equal(both.code, 2);
  assert.match(
    both.stderr,
    /2 voices are called "espeak-f1", of models (default, copy2|copy2, default): add --model NAME/,
  );
  // 3. With --model the one of that model is chosen (checked before anything is sent: a model
  //    without it is "no voice").
  const none = await cli(
    ['convert', tinyWav(1), '--voice', 'Zed', '--model', 'default', '--out', `${out}-3`],
    home,
  );
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no voice "Zed" of model default/);
});
