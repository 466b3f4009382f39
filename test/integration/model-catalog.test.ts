import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ModelCatalog } from '../../src/models/index.js';

// The catalog reads a model folder again only when its files changed (issue 17: re-reading and
// checking the manifest and five 28 KB presets every 5 s was the tail of POST /api/jobs). These
// tests use a copy of the real default model and `cacheMs: 0`, so every call checks the folder.

const DEFAULT_DIR = fileURLToPath(new URL('../../../models/default', import.meta.url));
let work: string;

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-catalog-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function copyOfDefault(name: string): Promise<{ modelsDir: string; dir: string }> {
  const modelsDir = await mkdtemp(path.join(work, `${name}-`));
  const dir = path.join(modelsDir, 'default');
  await cp(DEFAULT_DIR, dir, { recursive: true });
  return { modelsDir, dir };
}

async function editJson(file: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  await writeFile(file, JSON.stringify(json));
}

test('an unchanged folder is not read again once the cache time has passed', async () => {
  const { modelsDir } = await copyOfDefault('unchanged');
  const catalog = new ModelCatalog(modelsDir, undefined, { cacheMs: 0 });
  const first = await catalog.get();
  // 1. Checked again (cacheMs 0), found unchanged: the very same info, not a fresh read of it.
  const second = await catalog.get();
  assert.equal(second, first);
  assert.ok(first.presets.length > 0);
});

test('a preset edited in place shows at the next check', async () => {
  const { modelsDir, dir } = await copyOfDefault('edited');
  const catalog = new ModelCatalog(modelsDir, undefined, { cacheMs: 0 });
  const was = await catalog.get();
  const preset = was.presets[0];
  // 1. Rewritten with another display name (another size, another modification time).
  await editJson(path.join(dir, 'voices', `${preset.name}.json`), (j) => {
    j.displayName = 'Renamed in place';
  });
  // 2. The next call reads the folder again.
  const now = await catalog.get();
  assert.notEqual(now, was);
  assert.equal(now.presets.find((p) => p.id === preset.id)?.displayName, 'Renamed in place');
});

test('a manifest broken in place is reported at the next check, and fixed at the one after', async () => {
  const { modelsDir, dir } = await copyOfDefault('broken');
  const catalog = new ModelCatalog(modelsDir, undefined, { cacheMs: 0 });
  const manifest = path.join(dir, 'model.json');
  const good = await readFile(manifest, 'utf8');
  assert.equal((await catalog.get()).state, 'ready');
  await writeFile(manifest, '{ not json');
  await assert.rejects(catalog.get(), { code: 'VC_ERR_MODEL_BROKEN' });
  const [listed] = await catalog.list();
  assert.equal(listed.state, 'broken');
  await writeFile(manifest, good);
  assert.equal((await catalog.get()).state, 'ready');
});

test('within the cache time a change is not looked for', async () => {
  const { modelsDir, dir } = await copyOfDefault('cached');
  const catalog = new ModelCatalog(modelsDir, undefined, { cacheMs: 60_000 });
  const was = await catalog.get();
  await editJson(path.join(dir, 'voices', `${was.presets[0].name}.json`), (j) => {
    j.displayName = 'Not yet';
  });
  assert.equal(await catalog.get(), was);
});

test('options.cacheMs is checked', () => {
  assert.throws(() => new ModelCatalog(work, undefined, { cacheMs: -1 }), /options\.cacheMs/);
  assert.throws(() => new ModelCatalog(work, undefined, { cacheMs: Number.NaN }), /options\.cacheMs/);
});
