import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../helpers/processes.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { CLI } from '../helpers/service.js';

const RECORDER = fileURLToPath(new URL('../helpers/module-recorder.js', import.meta.url));
const WORKERS_INDEX = fileURLToPath(new URL('../../workers/index.js', import.meta.url));

let redis: TestRedis;
let runs = 0;
let dir: string;
before(async () => {
  redis = await startRedis();
  dir = mkdtempSync(path.join(os.tmpdir(), 'vcfarm-cli-'));
});
after(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `vcfarm ARGS` run to its end: exit status and output. */
function vcfarm(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: 'utf8', env: { ...process.env } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ status: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

// The runs are independent processes, so they run at once (each command's start-up is most of its time).
test('--help on every command prints its usage and exits 0; unknown flags and commands are refused with 2', async () => {
  const names = ['all', 'api', 'worker', 'users'];
  const [top, unknown, planElsewhere, ...perCommand] = await Promise.all([
    vcfarm(['--help']),
    vcfarm(['serve']),
    // `--plan` belongs to `users add` only.
    vcfarm(['users', 'list', '--plan=pro']),
    ...names.flatMap((name) => [vcfarm([name, '--help']), vcfarm([name, '--no-such-flag'])]),
  ]);
  assert.equal(top.status, 0);
  for (const name of names) assert.match(top.stdout, new RegExp(`\\n  ${name} `));
  for (const [i, name] of names.entries()) {
    const [help, bad] = perCommand.slice(2 * i, 2 * i + 2);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^usage: vcfarm ${name}`));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /Unknown option '--no-such-flag'/);
  }
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "serve"/);
  assert.equal(planElsewhere.status, 2);
});

/** Starts `command` under the module recorder; resolves with every module URL it loaded once `ready` shows. */
async function modulesAtReady(args: string[], ready: RegExp, env: Record<string, string>): Promise<string[]> {
  const log = path.join(dir, `run-${++runs}.modules`);
  const child = spawn(process.execPath, ['--import', RECORDER, ...args], {
    env: { ...process.env, ...env, VCFARM_MODULE_LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    output += b.toString();
  });
  try {
    await waitUntil(
      async () => ready.test(output) || child.exitCode !== null,
      30_000,
      `${args.join(' ')} ready`,
    );
    assert.match(output, ready);
    return readFileSync(log, 'utf8').trim().split('\n');
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * The engine's pure parsers the model catalog checks model folders with (src/models/model-folder.ts
 * imports them deeply, past the engine's index, which loads onnxruntime): plain TypeScript, no runtime.
 */
const ENGINE_PARSERS = ['manifest', 'voice-profile', 'errors', 'frame-manifest'].map(
  (m) => `/dist/workers/engine/${m}.js`,
);

const isWorkerCode = (url: string) =>
  /\/node_modules\/(piscina|onnxruntime-node)\//.test(url) ||
  (/\/dist\/workers\//.test(url) && !ENGINE_PARSERS.some((p) => url.endsWith(p)));

test('`vcfarm api` loads no worker code: no Piscina, no onnxruntime, nothing of workers/ but the engine parsers', async () => {
  const loaded = await modulesAtReady([CLI, 'api'], /"msg":"api listening"/, {
    REDIS_URL: redis.url,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: path.join(dir, 'data'),
    LOG_LEVEL: 'info',
  });
  assert.ok(
    loaded.some((u) => u.endsWith('/dist/src/server.js')),
    'the recorder saw the API itself',
  );
  assert.deepEqual(loaded.filter(isWorkerCode), []);
});

const isApiCode = (url: string) =>
  /\/node_modules\/(fastify|fastify-plugin|@fastify\/[^/]+)\//.test(url) ||
  /\/dist\/src\/(api|page|app\.js|server\.js)/.test(url) ||
  /\/dist\/src\/[^/]+\/(plugin|sweeper-plugin|pressure|drain|fail-fast)\.js$/.test(url);

test('`vcfarm worker` loads no API code: no Fastify, no plugin, nothing of src/api', async () => {
  const loaded = await modulesAtReady([CLI, 'worker'], /"msg":"worker process ready"/, {
    REDIS_URL: redis.url,
    DATA_DIR: path.join(dir, 'worker-data'),
    LOG_LEVEL: 'info',
    POOL_SIZE: '1',
  });
  assert.ok(
    loaded.some((u) => u.endsWith('/dist/workers/worker-process.js')),
    'the recorder saw the worker itself',
  );
  assert.deepEqual(loaded.filter(isApiCode), []);
});

test('the recorder does see worker code where it is loaded (so the check above can fail)', async () => {
  const loaded = await modulesAtReady(
    ['--input-type=module', '-e', `await import(${JSON.stringify(WORKERS_INDEX)}); console.log('loaded');`],
    /loaded/,
    {},
  );
  assert.ok(
    loaded.some((u) => u.includes('/node_modules/piscina/')),
    'piscina',
  );
  assert.ok(
    loaded.some((u) => u.includes('/dist/workers/')),
    'workers/',
  );
});

test('the recorder does see API code where it is loaded (so the worker check can fail)', async () => {
  const app = fileURLToPath(new URL('../../src/app.js', import.meta.url));
  const loaded = await modulesAtReady(
    ['--input-type=module', '-e', `await import(${JSON.stringify(app)}); console.log('loaded');`],
    /loaded/,
    {},
  );
  assert.ok(
    loaded.some((u) => u.includes('/node_modules/fastify-plugin/')),
    'fastify-plugin',
  );
  assert.ok(loaded.some(isApiCode), 'API code');
});
