import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The scripts npm runs to build what ships (package.json's build:previews) load no test code:
// a test helper may change or go with the tests, and a script must not change with it.
const RECORDER = fileURLToPath(new URL('../helpers/module-recorder.js', import.meta.url));
const BUILD_PREVIEWS = fileURLToPath(new URL('../../scripts/build-previews.js', import.meta.url));

test('scripts/build-previews loads no module of the tests', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcfarm-script-imports-'));
  try {
    // A folder without model.json: the script loads everything it imports, then has nothing to build.
    const log = path.join(dir, 'modules');
    const run = spawnSync(process.execPath, ['--import', RECORDER, BUILD_PREVIEWS, dir], {
      encoding: 'utf8',
      env: { ...process.env, VCFARM_MODULE_LOG: log },
    });
    assert.equal(run.status, 0, run.stderr);
    const modules = readFileSync(log, 'utf8').trim().split('\n');
    assert.ok(
      modules.some((m) => m.endsWith('/dist/scripts/build-previews.js')),
      'the recorder saw the script',
    );
    assert.deepEqual(
      modules.filter((m) => m.includes('/dist/test/')),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
