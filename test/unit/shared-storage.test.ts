// The workspace may be an NFS export mounted on every API and worker host (README: Hosts apart).
// What that allows is checked on the sources here; test/tiers/hosts-apart.tier.ts runs it for real.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { partialOutputPath } from '../../workers/tasks/partial-output.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

test('no code in src/ or workers/ relies on file watching or local file locks', () => {
  // inotify does not see another NFS client's changes; flock/lockfiles are per host or unreliable.
  const forbidden = [
    /\bfs\.watch(File)?\(/,
    /import\s*\{[^}]*\bwatch(File)?\b[^}]*\}\s*from\s*'node:fs(\/promises)?'/,
    /from\s*'(chokidar|proper-lockfile|lockfile|fs-ext)'/,
    /\bflock\b/,
  ];
  const files = [...sources('src'), ...sources('workers')];
  assert.ok(files.length > 50, 'the sources were found');
  const hits = files.flatMap((f) => {
    const text = readFileSync(path.join(REPO, f), 'utf8');
    return forbidden.filter((re) => re.test(text)).map((re) => `${f}: ${re}`);
  });
  assert.deepEqual(hits, []);
});

test('a partial output lives in its final directory, so finishing it is a rename within one directory', () => {
  const final = '/data/workspaces/u_1/outputs/job-1.wav';
  const part = partialOutputPath(final, 2);
  assert.equal(path.dirname(part), path.dirname(final));
  assert.ok(path.basename(part).startsWith('.'), 'hidden from listings until renamed');
});
