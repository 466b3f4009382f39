import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config/index.js';

export const USERS_USAGE = `usage: vcfarm users <add NAME [--plan PLAN] | list | remove ID | rotate-key ID>
  talks to the running API (VCFARM_URL, default http://127.0.0.1:$PORT) with the admin token
  (ADMIN_TOKEN, ADMIN_TOKEN_FILE, or DATA_DIR/admin-token)`;

async function adminToken(config: Config): Promise<string> {
  if (config.adminToken) return config.adminToken;
  const file = config.adminTokenFile ?? path.join(config.dataDir, 'admin-token');
  const token = (await readFile(file, 'utf8').catch(() => '')).split('\n')[0].trim();
  if (!token) throw new Error(`no admin token: set ADMIN_TOKEN or ADMIN_TOKEN_FILE (looked in ${file})`);
  return token;
}

/**
 * `vcfarm users ...`: the admin users API from the command line. It goes through the API
 * rather than Redis, so validation, key hashing and clean-up happen in one place.
 * Prints JSON on stdout; returns the process exit code.
 */
export async function usersCommand(
  args: string[],
  config: Config,
  env: NodeJS.ProcessEnv,
  out: (s: string) => void,
): Promise<number> {
  const [sub, ...rest] = args;
  const base = (env.VCFARM_URL ?? `http://127.0.0.1:${config.port}`).replace(/\/$/, '');
  const token = await adminToken(config);
  const call = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    out(text);
    return res.ok ? 0 : 1;
  };
  if (sub === 'add' && rest[0] && !rest[0].startsWith('--')) {
    const planAt = rest.indexOf('--plan');
    const plan = planAt >= 0 ? rest[planAt + 1] : config.plans.anonymousPlan;
    if (!plan) {
      out(USERS_USAGE);
      return 2;
    }
    return call('POST', '/api/admin/users', { name: rest[0], plan });
  }
  if (sub === 'list') return call('GET', '/api/admin/users');
  if (sub === 'remove' && rest[0]) return call('DELETE', `/api/admin/users/${encodeURIComponent(rest[0])}`);
  if (sub === 'rotate-key' && rest[0])
    return call('POST', `/api/admin/users/${encodeURIComponent(rest[0])}/keys`);
  out(USERS_USAGE);
  return 2;
}
