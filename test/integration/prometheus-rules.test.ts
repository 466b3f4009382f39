import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PROMETHEUS_DIR = fileURLToPath(new URL('../../../deploy/prometheus/', import.meta.url));

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-promtool-'));
});
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function promtool(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run('promtool', args, { cwd: PROMETHEUS_DIR });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('promtool check rules: the alert rules are valid', async () => {
  const r = await promtool('check', 'rules', 'vcfarm-rules.yml');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS: 6 rules found/);
});

test('promtool test rules: each rule fires where it should and stays silent where it should not', async () => {
  const r = await promtool('test', 'rules', 'vcfarm-rules.test.yml');
  assert.equal(r.code, 0, r.out);
  // Every alert of the rules file has a unit test.
  const rules = await readFile(path.join(PROMETHEUS_DIR, 'vcfarm-rules.yml'), 'utf8');
  const tests = await readFile(path.join(PROMETHEUS_DIR, 'vcfarm-rules.test.yml'), 'utf8');
  const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  assert.equal(alerts.length, 6);
  for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\n`), `no unit test for ${a}`);
});

test('promtool test rules fails when a rule is broken (the tests can fail)', async () => {
  const rules = await readFile(path.join(PROMETHEUS_DIR, 'vcfarm-rules.yml'), 'utf8');
  await writeFile(path.join(tmp, 'vcfarm-rules.yml'), rules.replace('> 600', '> 6000'));
  await copyFile(path.join(PROMETHEUS_DIR, 'vcfarm-rules.test.yml'), path.join(tmp, 'vcfarm-rules.test.yml'));
  const r = await run('promtool', ['test', 'rules', 'vcfarm-rules.test.yml'], { cwd: tmp }).then(
    () => 0,
    (e: { code?: number }) => e.code ?? 1,
  );
  assert.notEqual(r, 0);
});

test('promtool check config: the example scrape config is valid (with its credential file present)', async () => {
  const config = await readFile(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
  const token = path.join(tmp, 'admin-token');
  await writeFile(token, 'x'.repeat(40), { mode: 0o600 });
  await copyFile(path.join(PROMETHEUS_DIR, 'vcfarm-rules.yml'), path.join(tmp, 'vcfarm-rules.yml'));
  const file = path.join(tmp, 'prometheus.yml');
  await writeFile(file, config.replace('/etc/vcfarm/credentials/admin-token', token));
  const r = await run('promtool', ['check', 'config', file]).then(
    (o) => ({ code: 0, out: o.stdout + o.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      out: `${e.stdout}${e.stderr}`,
    }),
  );
  assert.equal(r.code, 0, r.out);
});
