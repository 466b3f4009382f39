import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { durationOf, humanSpeech } from '../helpers/fixtures.js';
import { startService, type TestService } from '../helpers/service.js';

// The README's "same over HTTP" block is what a new user copies first: it is run here as written
// (bash, curl, jq), only pointed at this test's service instead of localhost:8080.
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

let svc: TestService;
let dir: string;
before(async () => {
  svc = await startService({ workers: 1 });
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-readme-http-'));
});
after(async () => {
  await svc?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The first ```sh block after "The same over HTTP:". */
async function httpExample(): Promise<string> {
  const readme = await readFile(README, 'utf8');
  const from = readme.indexOf('The same over HTTP:');
  assert.ok(from > 0, 'the README has its HTTP example');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(from));
  assert.ok(block, 'the HTTP example is a sh block');
  return block[1];
}

test("the README's HTTP example converts speech.wav into out.mp3 when run as written", async () => {
  const script = await httpExample();
  assert.match(script, /localhost:8080/);
  // About a minute of speech: the job still runs when the script's next line is read.
  const speech = path.join(dir, 'speech.wav');
  // biome-ignore format: flag/value pairs
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '7', '-i', humanSpeech(1), '-ac', '1', speech]);
  const hostPort = new URL(svc.baseUrl).host;
  // Asynchronously: the API answers from this very process.
  let failure: string | undefined;
  const bash = ['-euo', 'pipefail', '-c', script.replaceAll('localhost:8080', hostPort)];
  await promisify(execFile)('bash', bash, { cwd: dir, timeout: 180_000 }).catch(
    (err: Error & { stdout?: string; stderr?: string }) => {
      failure = `${err.message}\n${err.stdout}\n${err.stderr}`;
    },
  );
  assert.equal(failure, undefined);
  const out = path.join(dir, 'out.mp3');
  const probe = spawnSync(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'format=format_name', '-of', 'csv=p=0', out],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(probe.stdout.trim(), 'mp3', `out.mp3 is mp3 audio: ${probe.stderr}`);
  assert.ok(
    Math.abs(durationOf(out) - durationOf(speech)) < 0.3,
    `${durationOf(out)} s of ${durationOf(speech)} s`,
  );
});
