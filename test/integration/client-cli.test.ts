import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { durationOf, humanSpeech } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';
import { CLI, startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

let svc: TestService;
let home: string;
before(async () => {
  svc = await startService({ workers: 1, env: { ADMIN_TOKEN } });
  home = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-home-'));
});
after(async () => {
  await svc?.close();
  await rm(home, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes (audio with --out -). */
  bytes: Buffer;
}

function start(
  args: string[],
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, VCFARM_URL: svc.baseUrl, XDG_CONFIG_HOME: home, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => {
    out.push(b);
  });
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b;
  });
  const done = new Promise<Run>((resolve) =>
    child.once('close', (code) => {
      const bytes = Buffer.concat(out);
      resolve({ code, stdout: bytes.toString('utf8'), stderr, bytes });
    }),
  );
  return { child, done };
}

const run = (args: string[], extraEnv?: Record<string, string>) => start(args, extraEnv).done;

/** The API as the CLI's kept anonymous session sees it. */
function sameUser(): ApiClient {
  const sessions = JSON.parse(readFileSync(path.join(home, 'vcfarm', 'sessions.json'), 'utf8'));
  return new ApiClient(svc.baseUrl, sessions[svc.baseUrl]);
}

test('--help on every command; a wrong option is a usage error (exit 2)', async () => {
  for (const cmd of ['convert', 'voices', 'jobs']) {
    const r = await run([cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: vcfarm ${cmd}`));
  }
  // A folder is no file to send: a usage error before anything is uploaded (it read as "cannot
  // reach the service" when fetch failed to read it).
  for (const args of [
    ['convert', home],
    ['voices', 'clone', 'Folder', home],
  ]) {
    const folder = await run(args);
    assert.equal(folder.code, 2, folder.stderr);
    assert.match(folder.stderr, new RegExp(`not a file: ${home}`));
    assert.doesNotMatch(folder.stderr, /cannot reach/);
  }
  const bad = await run(['convert', 'x.wav', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bogus/);
  assert.match(bad.stderr, /\nsee `vcfarm convert --help`\n$/);
  assert.doesNotMatch(bad.stderr, /usage:/, 'one line and where the help is, not the whole help');
  assert.equal((await run(['jobs', 'frobnicate'])).code, 2);
});

test('convert: two files uploaded, converted and downloaded; line progress on a pipe; --json', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-out-'));
  const a = tinyWav(1);
  const b = tinyWav(2);
  const r = await run(['convert', a, b, '--pitch', '2', '--format', 'mp3', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const outcomes = JSON.parse(r.stdout);
  assert.deepEqual(
    outcomes.map((o: { state: string }) => o.state),
    ['completed', 'completed'],
  );
  for (const [i, src] of [a, b].entries()) {
    const dest = outcomes[i].output as string;
    assert.equal(path.dirname(dest), out);
    assert.equal(path.extname(dest), '.mp3');
    assert.ok(Math.abs(durationOf(dest) - durationOf(src)) < 0.15, `${dest}: ${durationOf(dest)} s`);
  }
  // Not a terminal: one line per step, ending with the state.
  assert.match(r.stderr, new RegExp(`${path.basename(a)}|${a}: completed`));
  assert.match(r.stderr, /: completed\n/);
  // The jobs are the kept session's: jobs list and show see them.
  const list = await run(['jobs', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const ids = JSON.parse(list.stdout).map((j: { id: string }) => j.id);
  for (const o of outcomes) assert.ok(ids.includes(o.jobId));
  const show = await run(['jobs', 'show', outcomes[0].jobId]);
  assert.match(show.stdout, new RegExp(`^${outcomes[0].jobId}\\s+completed\\s+100%`));
  await rm(out, { recursive: true, force: true });
});

test('convert: two FILEs with one name, or a result already in --out, are refused before anything is sent; --overwrite replaces', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-names-'));
  const out = path.join(dir, 'out');
  const [a, b] = [path.join(dir, 'd1', 'talk.wav'), path.join(dir, 'd2', 'talk.wav')];
  for (const f of [a, b]) {
    await mkdir(path.dirname(f));
    await copyFile(tinyWav(1), f);
  }
  const dest = path.join(out, 'talk.mp3');
  // A home without a session: a request of any kind would leave one there.
  const untouched = { XDG_CONFIG_HOME: path.join(dir, 'home') };
  const nothingSent = () => !existsSync(path.join(dir, 'home', 'vcfarm', 'sessions.json'));
  const same = await run(['convert', a, b, '--format', 'mp3', '--out', out], untouched);
  assert.equal(same.code, 2, same.stderr);
  assert.ok(same.stderr.includes(`${a} and ${b} would both be written to ${dest}`), same.stderr);
  assert.ok(nothingSent(), 'refused before any request');
  assert.ok(!existsSync(dest));
  const first = await run(['convert', a, '--format', 'mp3', '--out', out]);
  assert.equal(first.code, 0, first.stderr);
  const written = readFileSync(dest);
  // A result already there: refused before anything is sent, the file as it was.
  const again = await run(['convert', b, '--pitch', '4', '--format', 'mp3', '--out', out], untouched);
  assert.equal(again.code, 2, again.stderr);
  assert.ok(again.stderr.includes(`${dest} already exists: pass --overwrite`), again.stderr);
  assert.ok(nothingSent(), 'refused before any request');
  assert.ok(readFileSync(dest).equals(written));
  const over = await run(['convert', b, '--pitch', '4', '--format', 'mp3', '--out', out, '--overwrite']);
  assert.equal(over.code, 0, over.stderr);
  assert.ok(over.stdout.includes(`${b} → ${dest}`), over.stdout);
  assert.ok(!readFileSync(dest).equals(written), 'the other conversion replaced the file');
  await rm(dir, { recursive: true, force: true });
});

test('a negative number as typed: --pitch -3', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-out-'));
  const r = await run(['convert', tinyWav(1), '--pitch', '-3', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const [outcome] = JSON.parse(r.stdout);
  assert.equal(outcome.state, 'completed');
  const show = JSON.parse((await run(['jobs', 'show', outcome.jobId, '--json'])).stdout);
  assert.equal(show.pitchSemitones, -3);
  // What is not a number still looks like an option: usage error, as before.
  const flag = await run(['convert', tinyWav(1), '--pitch', '-x']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /\nsee `vcfarm convert --help`\n$/);
  await rm(out, { recursive: true, force: true });
});

test('every job option is checked before anything is sent: exit 2, the option named in words', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-options-'));
  // A home without a session: a request of any kind (an upload first of all) would leave one there.
  const untouched = { XDG_CONFIG_HOME: path.join(dir, 'home') };
  const voice = ['--voice', 'preset-espeak-m3'];
  const cases: [string[], string][] = [
    [['--format', 'aac'], '--format must be one of wav, mp3, ogg, flac, got "aac"'],
    [[...voice, '--strength', '2'], '--strength must be from 0 to 1, got 2'],
    // Negative, as typed: read as a number, then the range.
    [[...voice, '--strength', '-0.5'], '--strength must be from 0 to 1, got -0.5'],
    [['--pitch', '30'], '--pitch must be from -24 to 24, got 30'],
    [['--strength', '0.5'], '--strength needs --voice'],
    [['--model', 'Default/..'], '--model must be a model name: 1-64 lower-case letters'],
  ];
  for (const [args, words] of cases) {
    const r = await run(['convert', tinyWav(1), ...args, '--out', dir], untouched);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`vcfarm convert: ${words}`), r.stderr);
    assert.match(
      r.stderr,
      /^[^\n]+\nsee `vcfarm convert --help`\n$/,
      'the mistake in one line, then where the help is',
    );
    assert.ok(
      !existsSync(path.join(dir, 'home', 'vcfarm', 'sessions.json')),
      `${args.join(' ')}: nothing sent`,
    );
  }
  await rm(dir, { recursive: true, force: true });
});

test("a refused file: exit 1 with the server's message in words", async () => {
  const bogus = path.join(home, 'notes.wav');
  await writeFile(bogus, 'this is not audio at all, only text pretending to be a wav file\n'.repeat(50));
  const r = await run(['convert', bogus, '--out', home]);
  assert.equal(r.code, 1);
  // The server's own words, not its code (that is in --json).
  const line = r.stderr.split('\n').find((l) => l.startsWith(`${bogus}: failed: `)) ?? r.stderr;
  assert.match(line, /^\S+: failed: [a-z][a-z ,'-]+/, r.stderr);
  assert.doesNotMatch(line, /VC_ERR_/);
  assert.ok(!r.stderr.includes(svc.dataDir), 'no server path in the message');
  const missing = await run(['jobs', 'show', 'nosuchjob123']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /VC_ERR_NOT_FOUND: job not found/);
});

test('voices: list with presets, clone a voice, remove it', async () => {
  const list = JSON.parse((await run(['voices', 'list', '--json'])).stdout);
  assert.ok(list.presets.length > 0, 'the default model has preset voices');
  const made = await run(['voices', 'clone', 'Test Voice', tinyWav(4), '--json']);
  assert.equal(made.code, 0, made.stderr);
  const voice = JSON.parse(made.stdout).voice;
  assert.equal(voice.name, 'Test Voice');
  const after1 = JSON.parse((await run(['voices', 'list', '--json'])).stdout);
  assert.ok(after1.voices.some((v: { id: string }) => v.id === voice.id));
  const removed = await run(['voices', 'rm', voice.id]);
  assert.equal(removed.code, 0, removed.stderr);
  const after2 = JSON.parse((await run(['voices', 'list', '--json'])).stdout);
  assert.ok(!after2.voices.some((v: { id: string }) => v.id === voice.id));
});

test('Ctrl-C cancels the jobs the command started', async () => {
  const client = sameUser();
  const before = new Set(
    (await client.request('GET', '/api/jobs')).body.jobs.map((j: { id: string }) => j.id),
  );
  // 15 s of speech with a pitch shift takes seconds here: the interrupt lands while it runs.
  const { child, done } = start(['convert', humanSpeech(2), '--pitch', '3', '--out', home]);
  let jobId = '';
  await waitUntil(
    async () => {
      const jobs = (await client.request('GET', '/api/jobs')).body.jobs as { id: string; state: string }[];
      jobId = jobs.find((j) => !before.has(j.id))?.id ?? '';
      return jobId !== '';
    },
    30_000,
    'the CLI to submit its job',
  );
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /cancelling 1 job/);
  assert.equal((await client.waitForJob(jobId)).state, 'cancelled');
});

test('on a terminal, progress is drawn as bars', async () => {
  // `script` gives the CLI a pseudo-terminal, as a person's shell would.
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-tty-'));
  const cmd = [process.execPath, CLI, 'convert', tinyWav(1), '--out', out].map((s) => `'${s}'`).join(' ');
  const r = await new Promise<Run>((resolve) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
      env: { ...process.env, VCFARM_URL: svc.baseUrl, XDG_CONFIG_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b;
    });
    child.once('close', (code) => resolve({ code, stdout, stderr: '', bytes: Buffer.from(stdout) }));
  });
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /\[[█░]{30}\] 100%/);
  assert.ok(existsSync(path.join(out, path.basename(tinyWav(1)))), 'the result was downloaded');
  await rm(out, { recursive: true, force: true });
});

/** The CLI's kept session as an API client (a first command makes it when no test did yet). */
async function cliUser(): Promise<ApiClient> {
  if (!existsSync(path.join(home, 'vcfarm', 'sessions.json'))) await run(['jobs', 'list']);
  return sameUser();
}

/** The CLI's one job made after `before` (a set of job ids), once it exists; fails if the CLI exits first. */
async function newJob(client: ApiClient, before: Set<string>, cli?: Promise<Run>): Promise<string> {
  let exited: Run | undefined;
  void cli?.then((r) => {
    exited = r;
  });
  let jobId = '';
  await waitUntil(
    async () => {
      if (exited) throw new Error(`the CLI exited ${exited.code} without a job: ${exited.stderr}`);
      const res = await client.request('GET', '/api/jobs');
      if (res.status !== 200) return false; // e.g. a 503 while this loaded machine sheds load
      jobId = (res.body.jobs as { id: string }[]).find((j) => !before.has(j.id))?.id ?? '';
      return jobId !== '';
    },
    120_000,
    'the CLI to submit its job',
  );
  return jobId;
}

async function jobIds(client: ApiClient): Promise<Set<string>> {
  const res = await client.request('GET', '/api/jobs');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return new Set(res.body.jobs.map((j: { id: string }) => j.id));
}

test('--follow: the output file grows while the job runs and ends as the exact finished file', async () => {
  const client = await cliUser();
  const before = await jobIds(client);
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-follow-'));
  // About 3 minutes of speech, pitch only: seconds of work here, the first audio long before the end.
  const input = humanSpeech(20);
  durationOf(input); // made (and cached) before the clock of the CLI's run starts
  const { done } = start(['convert', input, '--pitch=-3', '--format', 'mp3', '--out', out, '--follow']);
  const jobId = await newJob(client, before, done);
  const dest = path.join(out, `${path.basename(input, '.wav')}.mp3`);
  // 1. Sizes of the output file seen while the job is still active: it grows in place.
  const sizes: number[] = [];
  await waitUntil(
    async () => {
      const size = existsSync(dest) ? statSync(dest).size : 0;
      const res = await client.request('GET', `/api/jobs/${jobId}`);
      if (res.status !== 200) return false;
      const job = res.body.job;
      if (job.state === 'queued') return false;
      if (job.state !== 'active') return true;
      if (size > 0 && size !== sizes.at(-1)) sizes.push(size);
      return false;
    },
    120_000,
    'the job to end',
  );
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(sizes.length >= 2, `the file grew while the job ran: ${sizes.join(', ')}`);
  assert.ok(sizes.every((v, i) => i === 0 || v > sizes[i - 1]));
  // 2. What is left is the finished result, byte for byte (its header completed at the end).
  const result = await client.download(jobId);
  assert.equal(result.status, 200);
  assert.ok(readFileSync(dest).equals(result.bytes), 'the followed file is the finished file');
  assert.ok(result.bytes.length > (sizes.at(-1) ?? 0) / 2);
  assert.match(r.stdout, new RegExp(`→ ${dest}`));
  await rm(out, { recursive: true, force: true });
});

test('--out -: the audio on stdout as it is converted, ready for a player', async () => {
  const client = await cliUser();
  const before = await jobIds(client);
  const r = await run(['convert', humanSpeech(3), '--pitch', '2', '--format', 'ogg', '--out', '-']);
  assert.equal(r.code, 0, r.stderr);
  const jobId = await newJob(client, before);
  const result = await client.download(jobId);
  // Ogg pages are final as written: the stream is the finished file itself.
  assert.ok(r.bytes.equals(result.bytes), `stdout ${r.bytes.length} bytes, result ${result.bytes.length}`);
  assert.match(r.stderr, /→ \(stdout\)/);
  const piped = path.join(home, 'piped.ogg');
  await writeFile(piped, r.bytes);
  assert.ok(Math.abs(durationOf(piped) - durationOf(humanSpeech(3))) < 0.15);
  // Usage: one file only, and no --json (stdout is the audio).
  const two = await run(['convert', tinyWav(1), tinyWav(2), '--out', '-']);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /--out - takes exactly one FILE/);
  const json = await run(['convert', tinyWav(1), '--out', '-', '--json']);
  assert.equal(json.code, 2);
});

test('--follow and Ctrl-C: the job is cancelled and the half-written file removed', async () => {
  const client = await cliUser();
  const before = await jobIds(client);
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-follow-cancel-'));
  const input = humanSpeech(20);
  const { child, done } = start([
    'convert',
    input,
    '--pitch=-3',
    '--format',
    'mp3',
    '--out',
    out,
    '--follow',
  ]);
  const jobId = await newJob(client, before, done);
  const dest = path.join(out, `${path.basename(input, '.wav')}.mp3`);
  await waitUntil(async () => existsSync(dest) && statSync(dest).size > 0, 60_000, 'the first bytes');
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  assert.equal((await client.waitForJob(jobId)).state, 'cancelled');
  assert.equal(existsSync(dest), false, 'no half-written result is left');
  await rm(out, { recursive: true, force: true });
});

test('with VCFARM_API_KEY: a voice conversion toward a preset named by the name the page shows, and jobs cancel', async () => {
  const made = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', { name: 'cli-key', plan: 'free' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const key = { VCFARM_API_KEY: made.body.apiKey as string };
  const keyHome = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-key-'));
  const env = { ...key, XDG_CONFIG_HOME: keyHome };
  const presets = JSON.parse((await run(['voices', 'list', '--json'], env)).stdout).presets;
  const preset = presets[0] as { id: string; name: string; displayName: string };
  // 0. The list names each preset as the page does ("Walter"), not only by its file's name.
  const listed = await run(['voices', 'list'], env);
  assert.match(listed.stdout, new RegExp(`^${preset.id}\\s+preset\\s+${preset.displayName}\\b`, 'm'));
  // 1. `--voice NAME` finds the preset by that name, in any case; the key's user owns the job; no
  // anonymous session is made.
  const out = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-voice-'));
  const input = humanSpeech(1);
  const r = await run(
    [
      'convert',
      input,
      '--voice',
      preset.displayName.toUpperCase(),
      '--format',
      'mp3',
      '--out',
      out,
      '--json',
    ],
    env,
  );
  assert.equal(r.code, 0, r.stderr);
  const [outcome] = JSON.parse(r.stdout);
  assert.equal(outcome.state, 'completed');
  assert.ok(Math.abs(durationOf(outcome.output) - durationOf(input)) < 0.15);
  const show = JSON.parse((await run(['jobs', 'show', outcome.jobId, '--json'], env)).stdout);
  assert.equal(show.voiceId, preset.id);
  assert.equal(existsSync(path.join(keyHome, 'vcfarm', 'sessions.json')), false);
  // 2. `jobs cancel` stops a job of the key's user.
  const client = new ApiClient(svc.baseUrl, { token: key.VCFARM_API_KEY, userId: made.body.user.id });
  const up = await client.upload(humanSpeech(20));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 2 });
  const cancel = await run(['jobs', 'cancel', job.id], env);
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.equal((await client.waitForJob(job.id)).state, 'cancelled');
  await rm(out, { recursive: true, force: true });
  await rm(keyHome, { recursive: true, force: true });
});
