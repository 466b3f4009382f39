import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The README's command-line examples name voices a new user has: a preset of the default model by
// its id, its file's name or the name the page shows (the CLI resolves all three). An example
// naming a voice that does not exist fails for everyone who copies it.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VOICES = path.join(ROOT, 'models', 'default', 'voices');

test("every --voice in the README's examples is a preset of the default model", () => {
  const known = new Set<string>();
  for (const f of readdirSync(VOICES).filter((f) => f.endsWith('.json'))) {
    const base = f.slice(0, -'.json'.length);
    const { displayName } = JSON.parse(readFileSync(path.join(VOICES, f), 'utf8')) as { displayName: string };
    for (const name of [base, `preset-${base}`, displayName]) known.add(name.toLowerCase());
  }
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const named = [...readme.matchAll(/^vcfarm .*?--voice (\S+)/gm)].map((m) => m[1]);
  assert.ok(named.length >= 3, `the README's examples name voices: ${named.join(', ')}`);
  for (const v of named) assert.ok(known.has(v.toLowerCase()), `README: --voice ${v} is no preset voice`);
});
