import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// QA s17, defect 6 and ensure-build.sh: on a fresh clone with a copied node_modules, `npm start`'s
// build step reinstalled everything (the clone's lockfile is newer than the copy's record, though
// the same), `npx vcfarm` was refused (dist/src/cli.js built without the execute bit), and a model
// folder's *.json (data, read at run time) forced a full tsc build.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);
let clone: string;

before(async () => {
  // The checkout's files as a clone has them: fresh times, the lockfile newer than node_modules.
  clone = path.join(await mkdtemp(path.join(os.tmpdir(), 'vcfarm-clone-')), 'vcfarm');
  const { stdout } = await run('git', ['ls-files', '-z'], { cwd: ROOT, maxBuffer: 64 << 20 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    const from = path.join(ROOT, file);
    if (!(await stat(from).catch(() => undefined))?.isFile()) continue;
    await mkdir(path.dirname(path.join(clone, file)), { recursive: true });
    await copyFile(from, path.join(clone, file));
  }
  await run('chmod', ['-R', 'u+rwX', clone]);
  // node_modules as `cp -a` leaves it: the packages (linked here: they are only read) and npm's
  // record of the install with its old time; no hash of ours.
  const modules = path.join(clone, 'node_modules');
  await mkdir(modules);
  for (const entry of await readdir(path.join(ROOT, 'node_modules'))) {
    if (entry === '.package-lock.json' || entry === '.vcfarm-lock.sha256') continue;
    await symlink(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  const record = path.join(ROOT, 'node_modules', '.package-lock.json');
  await copyFile(record, path.join(modules, '.package-lock.json'));
  const old = new Date(Date.now() - 3600_000);
  await utimes(path.join(modules, '.package-lock.json'), old, old);
  // The page is not what this test is about: marked as built, so Vite does not run.
  await mkdir(path.join(clone, 'dist', 'public'), { recursive: true });
  await writeFile(path.join(clone, 'dist', 'public', 'index.html'), '<!doctype html>');
  await writeFile(path.join(clone, 'dist', '.web-build-stamp'), '');
});

after(async () => {
  if (clone) await rm(path.dirname(clone), { recursive: true, force: true });
});

async function ensureBuild(): Promise<string> {
  const { stdout, stderr } = await run('bash', ['scripts/ensure-build.sh'], {
    cwd: clone,
    env: { ...process.env, npm_config_offline: 'true' },
    maxBuffer: 64 << 20,
  });
  return stdout + stderr;
}

test('a fresh clone with a copied node_modules: built without a reinstall, `npx vcfarm` runs, a model json needs no build', async () => {
  // 1. First start: the same lockfile content is current, whatever its time; tsc builds.
  const first = await ensureBuild();
  assert.doesNotMatch(first, /installing npm dependencies/);
  assert.match(first, /building \(tsc\)/);
  const hash = (await readFile(path.join(clone, 'node_modules', '.vcfarm-lock.sha256'), 'utf8')).trim();
  assert.match(hash, /^[0-9a-f]{64}$/);

  // 2. The bin is executable, and README's way to run the CLI works.
  assert.ok((await stat(path.join(clone, 'dist', 'src', 'cli.js'))).mode & 0o100, 'cli.js is not executable');
  const help = await run('npx', ['vcfarm', '--help'], { cwd: clone });
  assert.match(help.stdout, /vcfarm/);

  // 3. A voice added to a model folder (its json) is data: no build.
  const voice = path.join(clone, 'models', 'default', 'voices', 'zed.json');
  await copyFile(path.join(clone, 'models', 'default', 'voices', 'espeak-f1.json'), voice);
  const later = new Date(Date.now() + 5000);
  await utimes(voice, later, later);
  const second = await ensureBuild();
  assert.doesNotMatch(second, /building \(tsc\)|installing npm dependencies/);
});
