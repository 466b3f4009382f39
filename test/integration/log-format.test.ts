import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { CLI } from '../helpers/service.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
const DATA_DIR = `/tmp/vcfarm-logfmt-${process.pid}`;
after(async () => {
  await redis?.stop();
  await rm(DATA_DIR, { recursive: true, force: true });
});

/**
 * Starts `vcfarm api` until it logs that it listens, then stops it; with `tty`, under `script`
 * (util-linux), so its stdout is a terminal. Returns everything it printed.
 */
async function apiOutput(env: Record<string, string>, tty: boolean): Promise<string> {
  const command = [process.execPath, CLI, 'api'];
  const child = tty
    ? spawn('script', ['-qfec', command.map((a) => `'${a}'`).join(' '), '/dev/null'], {
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(command[0], command.slice(1), {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no listening line in: ${out}`)), 30_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (/api listening/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  child.kill('SIGTERM');
  // `script` forwards the signal to the API; either way the whole tree ends.
  const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
  return out;
}

const env = () => ({
  REDIS_URL: redis.url,
  PORT: '0',
  HOST: '127.0.0.1',
  DRAIN_MS: '0',
  SWEEP_INTERVAL_SEC: '0',
  DATA_DIR,
});

test('piped: one JSON object per line', async () => {
  const out = await apiOutput(env(), false);
  const line = out.split('\n').find((l) => l.includes('api listening')) ?? '';
  const entry = JSON.parse(line) as { msg: string; role: string; level: number };
  assert.equal(entry.msg, 'api listening');
  assert.equal(entry.role, 'api');
});

test('on a terminal: pino-pretty lines, not JSON; LOG_FORMAT=json keeps JSON there', async () => {
  const pretty = await apiOutput(env(), true);
  const line = pretty.split('\n').find((l) => l.includes('api listening')) ?? '';
  assert.match(line, /INFO/);
  assert.doesNotMatch(line.trim(), /^\{/);
  const json = await apiOutput({ ...env(), LOG_FORMAT: 'json' }, true);
  const jline = json.split('\n').find((l) => l.includes('api listening')) ?? '';
  assert.equal((JSON.parse(jline.trim()) as { msg: string }).msg, 'api listening');
});
