import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest } from '../helpers/admin.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { CLI, startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

let svc: TestService;

before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
});
after(async () => {
  await svc?.close();
});

const addUser = (name: string) =>
  adminRequest(svc.baseUrl, 'POST', '/api/admin/users', { name, plan: 'pro' });
const named = async (name: string) =>
  (await adminRequest(svc.baseUrl, 'GET', '/api/admin/users')).body.users.filter(
    (u: Json) => u.name.toLowerCase() === name,
  );

/** `vcfarm ...` as a child (asynchronously: the API it calls runs in this process). */
function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...svc.env, VCFARM_URL: svc.baseUrl, ADMIN_TOKEN, ...env }, timeout: 60_000 },
      (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

test('a second user of the same name (any case) is refused 409, by the API and by `vcfarm users add`', async () => {
  // 1. The first alice is made; another, by API or CLI, in any case, is refused in words.
  assert.equal((await addUser('alice')).status, 201);
  const again = await addUser(' Alice');
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.equal(again.body.error, 'VC_ERR_CONFLICT');
  assert.equal(again.body.message, 'a user named "Alice" already exists');
  const byCli = await cli(['users', 'add', 'alice', '--plan', 'pro']);
  assert.equal(byCli.status, 1, byCli.stderr);
  assert.equal(byCli.stdout, '', 'no key printed');
  assert.equal(
    byCli.stderr.trim(),
    'vcfarm users add: a user named "alice" already exists (HTTP 409 VC_ERR_CONFLICT)',
  );
  assert.equal((await named('alice')).length, 1);

  // 2. Five creations of one new name at once: exactly one is made.
  const racing = await Promise.all([1, 2, 3, 4, 5].map(() => addUser('bob')));
  assert.deepEqual(racing.map((r) => r.status).sort(), [201, 409, 409, 409, 409]);
  assert.equal((await named('bob')).length, 1);

  // 3. Once alice is removed her name is free again.
  const [alice] = await named('alice');
  assert.equal((await adminRequest(svc.baseUrl, 'DELETE', `/api/admin/users/${alice.id}`)).status, 200);
  const byCliNow = await cli(['users', 'add', 'alice', '--plan', 'pro']);
  assert.equal(byCliNow.status, 0, byCliNow.stderr);
  assert.match(byCliNow.stdout, /^created user "alice" \(u_\w+\), plan pro\nAPI key: vck_/);
});

test('a removed user leaves GET /api/admin/usage; the users still there stay', async () => {
  // 1. Two users with a finished job each: both are in the usage.
  await svc.startWorker().ready;
  const clients: ApiClient[] = [];
  const jobIds: string[] = [];
  for (const name of ['leaving', 'staying']) {
    const made = await addUser(name);
    const client = new ApiClient(svc.baseUrl, { token: made.body.apiKey, userId: made.body.user.id });
    const up = await client.uploadBytes(await readFile(tinyWav(1, 8000)), 'a.wav');
    assert.equal(up.status, 201, JSON.stringify(up.body));
    jobIds.push((await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' })).id);
    clients.push(client);
  }
  const [leaving, staying] = clients.map((c) => c.session?.userId);
  const rows = async () =>
    (await adminRequest(svc.baseUrl, 'GET', '/api/admin/usage')).body.users.map((u: Json) => u.userId);
  for (const [i, client] of clients.entries())
    assert.equal((await client.waitForJob(jobIds[i])).state, 'completed');
  assert.ok((await rows()).includes(leaving));

  // QA s18, item 4: the admin's job view gives links the admin can open (they answered 401).
  for (const id of jobIds) {
    const view = await adminRequest(svc.baseUrl, 'GET', `/api/admin/jobs/${id}`);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    for (const url of [view.body.job.resultUrl, view.body.job.sourceUrl]) {
      const res = await fetch(`${svc.baseUrl}${url}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, `${url}: ${bytes.toString().slice(0, 200)}`);
      assert.ok(bytes.byteLength > 1000);
    }
  }

  // 2. Removing one leaves its job in the queue's history, and its row goes; its result went
  //    with its workspace, and the admin's view says so (it gave resultGone null and a link).
  assert.equal((await adminRequest(svc.baseUrl, 'DELETE', `/api/admin/users/${leaving}`)).status, 200);
  const kept = await adminRequest(svc.baseUrl, 'GET', `/api/admin/jobs/${jobIds[0]}`);
  assert.equal(kept.body.job?.state, 'completed', 'the job is still in the history the usage reads');
  assert.deepEqual([kept.body.job.resultUrl, kept.body.job.resultGone], [null, 'account-removed']);
  const after = await rows();
  assert.ok(!after.includes(leaving), JSON.stringify(after));
  assert.ok(after.includes(staying));
});

// QA s18, item 7: a wrong admin token was answered "the admin token is required" though one was sent.
test('a wrong admin token is refused as wrong, a missing one as missing, by the API and by `vcfarm users`', async () => {
  const wrong = 'w'.repeat(40);
  const refused = await adminRequest(svc.baseUrl, 'GET', '/api/admin/users', undefined, wrong);
  assert.deepEqual(
    [refused.status, refused.body],
    [401, { error: 'VC_ERR_UNAUTHORIZED', message: 'the token sent is not the admin token' }],
  );
  const missing = await fetch(`${svc.baseUrl}/api/admin/users`);
  assert.deepEqual(
    [missing.status, await missing.json()],
    [401, { error: 'VC_ERR_UNAUTHORIZED', message: 'the admin token is required' }],
  );
  const byCli = await cli(['users', 'list'], { ADMIN_TOKEN: wrong });
  assert.equal(byCli.status, 1, byCli.stderr);
  assert.match(byCli.stderr, /the token sent is not the admin token \(HTTP 401 VC_ERR_UNAUTHORIZED\)/);
});
