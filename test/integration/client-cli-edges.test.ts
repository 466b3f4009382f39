import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
