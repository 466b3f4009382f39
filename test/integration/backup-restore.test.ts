import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { adminRequest } from '../helpers/admin.js';
import { type AllProcess, startAll } from '../helpers/all-process.js';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { waitUntil } from '../helpers/processes.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BACKUP = path.join(REPO, 'scripts', 'backup.sh');
const RESTORE = path.join(REPO, 'scripts', 'restore.sh');

/** The scripts' environment: the service's DATA_DIR and MODELS_DIR, nothing inherited about Redis. */
function scriptEnv(dataDir: string, modelsDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, MODELS_DIR: modelsDir };
  delete env.REDIS_URL;
  delete env.REDIS_PASSWORD_FILE;
  return env;
}

async function cloneVoice(user: ApiClient, name: string): Promise<string> {
  const res = await user.cloneVoiceBytes(await readFile(espeakSentence('en-us+m3')), 'ref.wav', name);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id: string = res.body.voice.id;
  await waitUntil(
    async () => (await user.request('GET', `/api/voices/${id}`)).body.voice.state === 'ready',
    60_000,
    'the clone job',
  );
  return id;
}

test('a backup of a running `vcfarm all` restores into a fresh DATA_DIR: keys, voices, jobs and results come back', async () => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-backup-test-'));
  const modelsDir = path.join(REPO, 'models');
  let first: AllProcess | undefined;
  let second: AllProcess | undefined;
  try {
    // 1. A service with data: an admin-issued user, a cloned voice, a finished job.
    first = await startAll({ MODELS_DIR: modelsDir });
    const token = await first.adminToken();
    const created = await adminRequest(
      first.baseUrl,
      'POST',
      '/api/admin/users',
      { name: 'ada', plan: 'pro' },
      token,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const ada = new ApiClient(first.baseUrl, { token: created.body.apiKey, userId: created.body.user.id });
    const voiceId = await cloneVoice(ada, 'Deep voice');
    const up = await ada.upload(espeakSentence('en-us+f3'));
    assert.equal(up.status, 201);
    const job = await ada.createJob({
      uploadId: up.body.upload.id,
      outputFormat: 'wav',
      voiceId,
      strength: 1,
    });
    assert.equal((await ada.waitForJob(job.id)).state, 'completed');
    const result = await ada.download(job.id);
    assert.equal(result.status, 200);
    assert.ok(result.bytes.length > 1000);

    // 2. Back up while it runs (the embedded Redis has a password; the script finds both itself).
    const out = path.join(work, 'backups');
    const backup = await run('bash', [BACKUP, '--out', out], { env: scriptEnv(first.dataDir, modelsDir) });
    const archive = backup.stdout.trim();
    assert.match(path.basename(archive), /^vcfarm-backup-\d{8}T\d{6}Z\.tar\.gz$/);
    assert.deepEqual(await readdir(out), [path.basename(archive)], 'only the finished archive is left');
    assert.equal((await stat(archive)).mode & 0o077, 0, 'the archive is private to its owner');
    const password = (await readFile(path.join(first.dataDir, 'redis-password'), 'utf8')).trim();
    const listing = (await run('tar', ['-tzvf', archive])).stdout;
    assert.match(listing, /manifest\.json/);
    assert.match(listing, /SHA256SUMS/);
    assert.match(listing, /redis\/dump\.rdb/);
    assert.match(listing, new RegExp(`workspaces/${created.body.user.id}/outputs/`));
    assert.match(listing, /models\/default\/model\.json/);
    const unpacked = path.join(work, 'unpacked');
    await run('mkdir', ['-p', unpacked]);
    await run('tar', ['-C', unpacked, '-xzf', archive]);
    const [top] = await readdir(unpacked);
    const manifest = JSON.parse(await readFile(path.join(unpacked, top, 'manifest.json'), 'utf8'));
    assert.equal(manifest.format, 'vcfarm-backup/1');
    assert.ok(!JSON.stringify(manifest).includes(password), 'the Redis password is in the manifest');
    assert.ok(!backup.stderr.includes(password));

    // The original goes away entirely.
    await first.cleanup();
    first = undefined;

    // 3. A damaged archive is refused and leaves nothing behind.
    const damaged = path.join(work, 'damaged.tar.gz');
    await writeFile(path.join(unpacked, top, 'manifest.json'), '{"format": "vcfarm-backup/1", "x": 1}\n');
    await run('tar', ['-C', unpacked, '-czf', damaged, top]);
    const refusedDir = path.join(work, 'refused');
    await assert.rejects(
      run('bash', [RESTORE, damaged, '--data-dir', refusedDir, '--models-dir', path.join(work, 'm0')]),
      (err: { code: number; stderr: string }) => err.code === 65 && /checksum mismatch/.test(err.stderr),
    );
    await assert.rejects(stat(refusedDir), 'a refused restore wrote its DATA_DIR');
    assert.deepEqual(
      (await readdir(work)).filter((f) => f.startsWith('.')),
      [],
      'a refused restore left its staging folder',
    );

    // 4. Restore into a fresh DATA_DIR and MODELS_DIR elsewhere and start a service on it.
    const dataDir = path.join(work, 'restored', 'data');
    const restoredModels = path.join(work, 'restored', 'models');
    await run('bash', [RESTORE, archive, '--data-dir', dataDir, '--models-dir', restoredModels]);
    await assert.rejects(
      run('bash', [RESTORE, archive, '--data-dir', dataDir, '--models-dir', path.join(work, 'm1')]),
      (err: { code: number }) => err.code === 73,
      'a restore over a DATA_DIR in use must be refused',
    );
    second = await startAll({ DATA_DIR: dataDir, MODELS_DIR: restoredModels });
    const again = new ApiClient(second.baseUrl, ada.session);
    const ws = await again.request('GET', '/api/workspace');
    assert.equal(ws.status, 200, 'the API key works after the restore');
    assert.equal(ws.body.plan, 'pro');
    const users = await adminRequest(
      second.baseUrl,
      'GET',
      '/api/admin/users',
      undefined,
      await second.adminToken(),
    );
    assert.ok(
      users.body.users.some(
        (u: { id: string; name: string }) => u.id === ada.session?.userId && u.name === 'ada',
      ),
    );
    const voices = await again.request('GET', '/api/voices');
    assert.deepEqual(
      voices.body.voices.map((v: { id: string; state: string }) => [v.id, v.state]),
      [[voiceId, 'ready']],
    );
    assert.equal((await again.job(job.id)).state, 'completed');
    const restoredResult = await again.download(job.id);
    assert.equal(restoredResult.status, 200);
    assert.ok(restoredResult.bytes.equals(result.bytes), 'the result downloads identical');

    // 5. The restored service keeps working: a new job with the restored voice completes.
    const up2 = await again.upload(espeakSentence('en-us+f3'));
    const job2 = await again.createJob({
      uploadId: up2.body.upload.id,
      outputFormat: 'wav',
      voiceId,
      strength: 1,
    });
    assert.equal((await again.waitForJob(job2.id)).state, 'completed');
  } finally {
    await first?.cleanup();
    await second?.cleanup();
    await rm(work, { recursive: true, force: true });
  }
});
