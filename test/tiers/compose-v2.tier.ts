// docker-compose.production.yml and every override the docker tier renders (each tier; the whole
// stack, an API-only and a worker-only host against a remote TLS Redis) validated by Docker
// Compose v2 as well as by the v1 this machine has. Debian 12 packages only v1; v2 is taken from
// Debian 13's package (test/tiers/compose-v2.sh, cached), nothing of it installed. Both must
// accept every file, and both must refuse a misspelt key (the check can fail).
// Run by `npm run test:tiers` (no dockerd needed: `config` only reads the files).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { DEPLOY_SCRIPT, REPO } from './helpers/roots.js';

const execFileAsync = promisify(execFile);
const TIERS = ['tiny', 'small', 'medium', 'large', 'xlarge'];
const PRODUCTION = path.join(REPO, 'docker-compose.production.yml');

let work: string;
let v2: string;
let remote: Record<string, string>;

/** One file the dry run printed (after its `### <path>` line). */
function section(out: string, suffix: string): string {
  const part = out.split(/^### /m).find((p) => p.split('\n')[0].endsWith(suffix));
  assert.ok(part, `the dry run prints ${suffix}`);
  return part.slice(part.indexOf('\n') + 1);
}

async function dryRun(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileAsync('bash', [DEPLOY_SCRIPT, 'docker', ...args, '--dry-run'], {
    env: { ...process.env, VCFARM_DEPLOY_DIR: path.join(work, 'never-written'), ...env },
    timeout: 60_000,
  });
  return stdout;
}

/** `config -q` of the production file with `override` by v1 and by v2: their exit codes and output. */
async function validate(override: string): Promise<Record<'v1' | 'v2', { code: number; out: string }>> {
  const deployDir = path.join(work, 'deploy');
  await writeFile(path.join(deployDir, 'override.yml'), override);
  const args = ['-f', PRODUCTION, '-f', path.join(deployDir, 'override.yml'), 'config', '-q'];
  const env = { ...process.env, VCFARM_DEPLOY_DIR: deployDir };
  const one = async (bin: string) => {
    try {
      const { stdout, stderr } = await execFileAsync(bin, args, { env });
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
  return { v1: await one('docker-compose'), v2: await one(v2) };
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-compose-v2-'));
  v2 = (
    await execFileAsync('bash', [path.join(REPO, 'test/tiers/compose-v2.sh')], { timeout: 600_000 })
  ).stdout.trim();
  // The secrets the production file names exist as the deploy script leaves them.
  await mkdir(path.join(work, 'deploy', 'secrets'), { recursive: true });
  for (const name of ['admin-token', 'redis-password', 'stats-password'])
    await writeFile(path.join(work, 'deploy', 'secrets', name), 'x\n');
  await writeFile(path.join(work, 'redis-password'), 'remote-password-0123456789\n', { mode: 0o600 });
  await writeFile(
    path.join(work, 'ca.pem'),
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  );
  await mkdir(path.join(work, 'shared'));
  remote = {
    REDIS_PASSWORD_FILE: path.join(work, 'redis-password'),
    REDIS_TLS_CA_FILE: path.join(work, 'ca.pem'),
    WORKSPACES_DIR: path.join(work, 'shared'),
  };
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('compose v2 is the real thing', async () => {
  const { stdout } = await execFileAsync(v2, ['version', '--short']);
  assert.match(stdout.trim(), /^v?2\.\d+\.\d+/);
});

test('v1 and v2 both accept the production file with every rendered override', async () => {
  const checked: string[] = [];
  for (const tier of TIERS) {
    const renders: [string, string][] = [
      ['all', await dryRun([tier], {})],
      ['api', await dryRun([tier, '--role', 'api', '--redis-url', 'rediss://redis.internal:6380/0'], remote)],
      [
        'worker',
        await dryRun([tier, '--role', 'worker', '--redis-url', 'rediss://redis.internal:6380/0'], remote),
      ],
    ];
    for (const [role, out] of renders) {
      const r = await validate(section(out, '/override.yml'));
      assert.equal(r.v1.code, 0, `${tier} ${role}, v1: ${r.v1.out}`);
      assert.equal(r.v2.code, 0, `${tier} ${role}, v2: ${r.v2.out}`);
      checked.push(`${tier}/${role}`);
    }
  }
  assert.equal(checked.length, TIERS.length * 3);
});

test('v1 and v2 both refuse a misspelt key', async () => {
  const r = await validate('services:\n  worker:\n    mem_limits: 1g\n');
  assert.notEqual(r.v1.code, 0, r.v1.out);
  assert.notEqual(r.v2.code, 0, r.v2.out);
  assert.match(r.v2.out, /mem_limits/);
});
