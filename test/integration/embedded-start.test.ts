import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { writePlans } from '../helpers/plans.js';
import { freePort } from '../helpers/ports.js';
import { processesMatching, spawnProcess, waitUntil } from '../helpers/processes.js';
import { rawRedis } from '../helpers/redis.js';
import { CLI } from '../helpers/service.js';

test('`vcfarm all` starts its own Redis, API and worker, converts, and Ctrl-C stops everything', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-all-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    // vcfarm all starts its own Redis and makes its password: none of this environment's.
    REDIS_URL: undefined,
    REDIS_PASSWORD_FILE: undefined,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    // info: the logs below are searched for the Redis password.
    LOG_LEVEL: 'info',
    // Status polling below would soon meet the free plan's API requests a minute (config/plans.json).
    PLANS_FILE: writePlans(dataDir),
  };
  const started = spawnProcess(process.execPath, [CLI, 'all'], { env });
  const child = started.process;
  try {
    // 1. It prints the URL once everything is up.
    await waitUntil(() => started.output().includes('vcfarm is running'), 30_000, 'the start banner');
    assert.match(started.output(), new RegExp(`open http://(localhost|127\\.0\\.0\\.1):${port}/`));
    const redisPid = Number(await readFile(path.join(dataDir, 'run', 'redis.pid'), 'utf8'));
    assert.ok(redisPid > 0);
    assert.ok((await readFile(`/proc/${redisPid}/cmdline`, 'utf8')).startsWith('redis-server'));
    const aof = await readFile(
      path.join(dataDir, 'redis', 'appendonlydir', 'appendonly.aof.manifest'),
      'utf8',
    );
    assert.ok(aof.length > 0, 'appendonly is on');

    // 1b. Redis asks for a password, kept in DATA_DIR with mode 0600 and on no command line.
    // redis-server retitles itself "redis-server 127.0.0.1:<port>".
    const title = await readFile(`/proc/${redisPid}/cmdline`, 'utf8');
    const redisPort = Number(/127\.0\.0\.1:(\d+)/.exec(title)?.[1]);
    assert.match(await rawRedis(redisPort, 'PING'), /^-NOAUTH/);
    assert.match(await rawRedis(redisPort, 'SET vcfarm:session:x someone'), /^-NOAUTH/);
    const passwordFile = path.join(dataDir, 'redis-password');
    assert.equal((await stat(passwordFile)).mode & 0o777, 0o600);
    const password = (await readFile(passwordFile, 'utf8')).trim();
    assert.ok(password.length >= 32);
    assert.equal(await rawRedis(redisPort, `AUTH ${password}`), '+OK');
    assert.deepEqual(processesMatching(password), [], 'the password is on a command line');

    // 2. It works end to end.
    const base = `http://127.0.0.1:${port}`;
    const client = await ApiClient.anonymous(base);
    const up = await client.upload(espeakSentence('en-us+f3'));
    assert.equal(up.status, 201);
    const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
    assert.equal((await client.waitForJob(job.id)).state, 'completed');
    assert.ok(
      started.logs.some((l) => l.msg === 'worker process ready'),
      'the logs were captured',
    );
    assert.ok(!started.output().includes(password), 'the password is in a log');

    // 2b. QA s18, items 6 and 8: a refused request says the type in words; no log line repeats a
    //     key (jq keeps only the last: `"role":"all","role":"redis"`, `"msg":…,"msg":"request rejected"`).
    const refused = await client.request('POST', '/api/jobs', {
      uploadId: up.body.upload.id,
      outputFormat: 'wav',
      pitchSemitones: 'up',
    });
    assert.deepEqual([refused.status, refused.body.message], [400, 'pitchSemitones must be a number']);
    await waitUntil(() => started.output().includes('request rejected'), 10_000, 'the rejection logged');
    const lines = started
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    for (const line of lines) assert.deepEqual(repeatedKeys(line), [], line);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      entries.some((e) => e.role === 'all' && e.component === 'redis'),
      'the Redis child logs',
    );
    assert.ok(
      entries.some((e) => e.msg === 'request rejected' && e.reason === 'pitchSemitones must be a number'),
      'the rejection with its reason',
    );

    // 3. Ctrl-C (SIGINT to the supervisor) stops the API, the worker and Redis.
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    await waitUntil(() => processesMatching(dataDir).length === 0, 10_000, 'every child to exit');
    assert.deepEqual(processesMatching(dataDir), []);
    await assert.rejects(fetch(`${base}/health`));
  } finally {
    await started.kill();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a bad environment variable stops start-up with a message naming it', async () => {
  const child = spawn(process.execPath, [CLI, 'all'], {
    env: { ...process.env, PORT: 'eighty' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 78);
  assert.match(stderr, /PORT="eighty": must be an integer/);
});

/** The top-level keys a JSON object's text gives more than once (JSON.parse keeps the last of each). */
function repeatedKeys(text: string): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) repeated.push(key);
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return repeated;
}
