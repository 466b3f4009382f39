import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { CLI, startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// No worker: jobs stay queued until cancelled, which is all these edges need.
let svc: TestService;
let home: string;

before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
  home = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-cli-edges-'));
});
after(async () => {
  await svc?.close();
  await rm(home, { recursive: true, force: true });
});

/** `vcfarm ...` as a child process, asynchronously (the API runs in this process). */
function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, VCFARM_URL: svc.baseUrl, XDG_CONFIG_HOME: home, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => {
      stdout += b;
    });
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function keyUser(name: string) {
  const made = await adminRequest(svc.baseUrl, 'POST', '/api/admin/users', { name, plan: 'pro' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return {
    env: { VCFARM_API_KEY: made.body.apiKey as string },
    client: new ApiClient(svc.baseUrl, { token: made.body.apiKey, userId: made.body.user.id }),
  };
}

test('help: every client command names VCFARM_API_KEY; convert lists exit statuses 0, 1, 2 and 130', async () => {
  for (const cmd of ['convert', 'voices', 'jobs']) {
    const r = await run([cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /VCFARM_API_KEY {2,}your API key/, cmd);
  }
  const convert = (await run(['convert', '--help'])).stdout;
  assert.match(convert, /Exit status: 0 every file converted; 1 a file failed/);
  assert.match(convert, /2 wrong arguments or options; 130 interrupted by Ctrl-C/);
});

test('a key the service does not know: only the authentication error, exit 1', async () => {
  const file = tinyWav(1, 8000);
  const r = await run(['convert', file, '--out', home], { VCFARM_API_KEY: 'vck_not-a-real-key' });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    `${file}: failed: a valid bearer token is required\n`,
    'one line, no WebSocket notice',
  );
});

test('jobs list: says when there is none, and shows a clone as a clone', async () => {
  const { env, client } = await keyUser('lister');
  const empty = await run(['jobs', 'list'], env);
  assert.equal(empty.code, 0);
  assert.equal(empty.stdout, 'no jobs\n');
  assert.equal((await run(['jobs', 'list', '--state', 'failed'], env)).stdout, 'no failed jobs\n');
  const cloned = await client.cloneVoiceBytes(
    await readFile(espeakSentence('en-us+f3')),
    'ref.wav',
    'My Ref',
  );
  assert.equal(cloned.status, 202, JSON.stringify(cloned.body));
  const listed = await run(['jobs', 'list'], env);
  assert.match(listed.stdout, /queued +0% {2}voice clone "My Ref"\n$/);
  assert.doesNotMatch(listed.stdout, /→/);
});

test('jobs cancel of a job that had already finished: said on stderr, exit 1; of a queued one: exit 0', async () => {
  const { env, client } = await keyUser('canceller');
  const up = await client.uploadBytes(await readFile(tinyWav(1, 8000)), 'a.wav');
  const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  // 1. Queued: cancelled, the job printed.
  const first = await run(['jobs', 'cancel', job.id], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^${job.id} +cancelled`));
  // 2. Again: it had finished (cancelled), nothing is done.
  const again = await run(['jobs', 'cancel', job.id], env);
  assert.equal(again.code, 1);
  assert.equal(again.stdout, '');
  assert.equal(
    again.stderr,
    `vcfarm jobs cancel: job ${job.id} had already finished (cancelled); nothing to cancel\n`,
  );
});

test('vcfarm users list with the API down names the URL it tried', async () => {
  // A port nothing listens on: bound, then closed.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const r = await run(['users', 'list'], { ...svc.env, VCFARM_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `vcfarm: cannot reach the API at http://127.0.0.1:${port} (ECONNREFUSED): is it running? (VCFARM_URL sets where)\n`,
  );
});

// QA s18, defect 3: `--url notaurl` was retried three times as a broken connection, then exit 1.
test('a --url or VCFARM_URL that is not an http(s) URL: exit 2 at once, one line, nothing retried', async () => {
  for (const [args, env, from] of [
    [['jobs', 'list', '--url', 'notaurl'], {}, '--url'],
    [['voices', 'list', '--url', 'ftp://example.org'], {}, '--url'],
    [['jobs', 'list'], { VCFARM_URL: 'localhost:8080' }, 'VCFARM_URL'],
  ] as const) {
    const r = await run([...args], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`^vcfarm ${args[0]}: ${from} must be an http:// or https:// URL, got "`),
    );
    assert.match(r.stderr, new RegExp(`\\nsee \`vcfarm ${args[0]} --help\`\\n$`));
    // No retry notice ("sending the same request again"): nothing was sent.
    assert.doesNotMatch(r.stderr, /again|usage:/);
  }
});

test('a service that refuses connections is said to refuse them, not to have broken a connection', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const r = await run(['jobs', 'list', '--url', `http://127.0.0.1:${port}`], { VCFARM_API_KEY: 'vck_x' });
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /broke/);
  assert.match(
    r.stderr,
    /vcfarm: could not connect to the service \(ECONNREFUSED\); sending the same request again in 1 s \(1 of 3\)\n/,
  );
  assert.match(
    r.stderr,
    new RegExp(
      `vcfarm jobs: VC_CLIENT_UNREACHABLE: cannot reach http://127.0.0.1:${port}: could not connect to the service \\(ECONNREFUSED\\)\\n$`,
    ),
  );
});

// QA s18, rough edges of the CLI: the API's field names, a preset "not found", the whole help
// after every mistake, users list as raw JSON.
test('voices rm: an id that cannot be one is a usage mistake in the CLI\'s words; a preset "cannot be removed" (the API answers 403)', async () => {
  const { env, client } = await keyUser('voice-remover');
  const bad = await run(['voices', 'rm', 'nope'], env);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(
    bad.stderr,
    "vcfarm voices: \"nope\" is not a voice id (see `vcfarm voices list`): ids are 8-64 letters, digits, '-' or '_'\nsee `vcfarm voices --help`\n",
  );
  const preset = ((await client.request('GET', '/api/voices')).body.presets as { id: string }[])[0].id;
  const api = await client.request('DELETE', `/api/voices/${preset}`);
  assert.equal(api.status, 403);
  assert.deepEqual(api.body, {
    error: 'VC_ERR_FORBIDDEN',
    message: 'preset voices come with the service and cannot be removed',
  });
  const rm = await run(['voices', 'rm', preset], env);
  assert.equal(rm.code, 1);
  assert.match(rm.stderr, /cannot be removed/);
  assert.doesNotMatch(rm.stderr, /not found/);
  const shown = await run(['jobs', 'show', 'x'], env);
  assert.equal(shown.code, 2);
  assert.match(shown.stderr, /^vcfarm jobs: "x" is not a job id/);
  assert.doesNotMatch(shown.stderr + bad.stderr, /params\./);
});

test('a usage mistake prints one line and where the help is, not the whole help', async () => {
  for (const args of [
    ['voices', 'frobnicate'],
    ['jobs', 'list', 'extra'],
    ['voices', 'rm'],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 3, `two lines: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^vcfarm ${args[0]}: .+\\nsee \`vcfarm ${args[0]} --help\`\\n$`));
  }
});

test('vcfarm users list prints a table; --json the API answer', async () => {
  await keyUser('table-user');
  const env = { ...svc.env, VCFARM_URL: svc.baseUrl, ADMIN_TOKEN };
  const table = await run(['users', 'list'], env);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^ID +NAME +PLAN +CREATED \(UTC\)$/);
  assert.ok(
    lines.some((l) => /^\S+ +table-user +pro +\d{4}-\d\d-\d\d \d\d:\d\d$/.test(l)),
    table.stdout,
  );
  assert.doesNotMatch(table.stdout, /[{}"]/);
  const json = await run(['users', 'list', '--json'], env);
  assert.equal(json.code, 0, json.stderr);
  assert.ok(JSON.parse(json.stdout).users.some((u: { name: string }) => u.name === 'table-user'));
});

test('vcfarm users add, rotate-key and remove say what they did in words, the key once with a note to store it; --json the API answer', async () => {
  const env = { ...svc.env, VCFARM_URL: svc.baseUrl, ADMIN_TOKEN };
  // 1. add: who was made, the key on a line of its own, the note; the key works.
  const add = await run(['users', 'add', 'worded', '--plan', 'pro'], env);
  assert.equal(add.code, 0, add.stderr);
  const made =
    /^created user "worded" \((u_\w+)\), plan pro\nAPI key: (vck_\S+)\nStore it now: it is shown only this once \(only its hash is kept\)\.\nA lost key is replaced with `vcfarm users rotate-key \1`\.\n$/.exec(
      add.stdout,
    );
  assert.ok(made, add.stdout);
  const [, id, key] = made;
  const worded = new ApiClient(svc.baseUrl, { token: key, userId: id });
  assert.equal((await worded.request('GET', '/api/workspace')).body.plan, 'pro');
  // 2. rotate-key: the new key, said to replace the old one (which no longer works).
  const rotate = await run(['users', 'rotate-key', id], env);
  assert.equal(rotate.code, 0, rotate.stderr);
  assert.match(
    rotate.stdout,
    new RegExp(`^new API key for ${id}; its earlier keys no longer work\nAPI key: vck_\\S+\nStore it now`),
  );
  assert.equal((await worded.request('GET', '/api/workspace')).status, 401);
  // 3. remove: who, and how many of their jobs were cancelled.
  const remove = await run(['users', 'remove', id], env);
  assert.equal(remove.code, 0, remove.stderr);
  assert.equal(remove.stdout, `removed user "worded" (${id}); 0 jobs of theirs cancelled\n`);
  // 4. --json: the API's answers, for scripts.
  const json = await run(['users', 'add', 'json-user', '--json'], env);
  assert.equal(json.code, 0, json.stderr);
  const body = JSON.parse(json.stdout);
  assert.match(body.apiKey, /^vck_/);
  const rotated = JSON.parse((await run(['users', 'rotate-key', body.user.id, '--json'], env)).stdout);
  assert.match(rotated.apiKey, /^vck_/);
  const gone = JSON.parse((await run(['users', 'remove', body.user.id, '--json'], env)).stdout);
  assert.deepEqual([gone.user.id, gone.cancelledJobs], [body.user.id, 0]);
});

test('jobs list --limit the API would refuse: a usage mistake (exit 2) before any request', async () => {
  // 1. A canary service: any request reaching it is counted.
  let requests = 0;
  const canary = http.createServer((_req, res) => {
    requests++;
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(canary.address() as net.AddressInfo).port}`;
  try {
    for (const limit of ['0', '101', 'abc', '1.5', '-1', '']) {
      const r = await run(['jobs', 'list', `--limit=${limit}`, '--url', url], { VCFARM_API_KEY: 'vck_x' });
      assert.equal(r.code, 2, `${limit}: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `vcfarm jobs: --limit must be a whole number from 1 to 100, got "${limit}"\nsee \`vcfarm jobs --help\`\n`,
      );
    }
    assert.equal(requests, 0, 'nothing was sent');
  } finally {
    await new Promise((resolve) => canary.close(resolve));
  }
  // 2. One in range is sent as before.
  const { env, client } = await keyUser('limited');
  const up = await client.uploadBytes(await readFile(tinyWav(1, 8000)), 'a.wav');
  for (let i = 0; i < 2; i++) await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
  const one = await run(['jobs', 'list', '--limit', '1'], env);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout.trimEnd().split('\n').length, 1, one.stdout);
});
