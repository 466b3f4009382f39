import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vcfarm-redis-pw-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const secretFile = (name: string, content: string): string => {
  const file = path.join(dir, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
};

test('REDIS_PASSWORD_FILE fills the password into REDIS_URL (first line, trimmed)', () => {
  const file = secretFile('pw', 'p4ss/word+x\nsecond line\n');
  const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/0', REDIS_PASSWORD_FILE: file });
  const url = new URL(c.redisUrl ?? '');
  assert.equal(decodeURIComponent(url.password), 'p4ss/word+x');
  assert.equal(url.host, '127.0.0.1:6379');
  assert.equal(url.pathname, '/0');
});

test('a password already in REDIS_URL wins over the file', () => {
  const file = secretFile('pw2', 'from-file\n');
  const c = loadConfig({ REDIS_URL: 'redis://:inline@h:1', REDIS_PASSWORD_FILE: file });
  assert.equal(new URL(c.redisUrl ?? '').password, 'inline');
});

test('a missing or empty password file stops start-up naming the variable, never a password', () => {
  assert.throws(
    () => loadConfig({ REDIS_URL: 'redis://h:1', REDIS_PASSWORD_FILE: path.join(dir, 'absent') }),
    /REDIS_PASSWORD_FILE=.*absent.*ENOENT/,
  );
  assert.throws(
    () => loadConfig({ REDIS_URL: 'redis://h:1', REDIS_PASSWORD_FILE: secretFile('empty', '\n') }),
    /REDIS_PASSWORD_FILE=.*: empty/,
  );
});

test('without REDIS_URL the file is not read (the embedded Redis has its own settings)', () => {
  const c = loadConfig({ REDIS_PASSWORD_FILE: path.join(dir, 'absent') });
  assert.equal(c.redisUrl, undefined);
});
