import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { Command } from './command.js';

const USAGE = `usage: vcfarm users <add NAME [--plan PLAN] | list | remove ID | rotate-key ID> [--json]
  talks to the running API (VCFARM_URL, default http://127.0.0.1:$PORT) with the admin token
  (ADMIN_TOKEN, ADMIN_TOKEN_FILE, or DATA_DIR/admin-token)
  --plan PLAN   the new user's plan (add only; default: the anonymous plan of PLANS_FILE)
  --json        the API's JSON answer instead of words (a table for list)`;

interface UserRow {
  id: string;
  name: string;
  plan: string;
  createdAt: number;
}

/** `GET /api/admin/users` as a table: id, name, plan, created (UTC), one user a line. */
function userTable(text: string): string {
  const users = (JSON.parse(text) as { users: UserRow[] }).users;
  if (users.length === 0) return 'no users';
  const rows = [
    ['ID', 'NAME', 'PLAN', 'CREATED (UTC)'],
    ...users.map((u) => [
      u.id,
      u.name,
      u.plan,
      new Date(u.createdAt).toISOString().slice(0, 16).replace('T', ' '),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c)).join('  ')).join('\n');
}

/** After a new key: it cannot be shown again (only its hash is kept), and how to replace it. */
function keyLines(apiKey: string, userId: string): string {
  return [
    `API key: ${apiKey}`,
    'Store it now: it is shown only this once (only its hash is kept).',
    `A lost key is replaced with \`vcfarm users rotate-key ${userId}\`.`,
  ].join('\n');
}

/** `POST /api/admin/users` in words: who was created, then the key. */
function created(text: string): string {
  const { user, apiKey } = JSON.parse(text) as { user: UserRow; apiKey: string };
  return `created user "${user.name}" (${user.id}), plan ${user.plan}\n${keyLines(apiKey, user.id)}`;
}

/** `POST /api/admin/users/:id/keys` in words. */
function rotated(userId: string): (text: string) => string {
  return (text) => {
    const { apiKey } = JSON.parse(text) as { apiKey: string };
    return `new API key for ${userId}; its earlier keys no longer work\n${keyLines(apiKey, userId)}`;
  };
}

/** `DELETE /api/admin/users/:id` in words. */
function removed(text: string): string {
  const { user, cancelledJobs } = JSON.parse(text) as { user: UserRow; cancelledJobs: number };
  const jobs = cancelledJobs === 1 ? '1 job' : `${cancelledJobs} jobs`;
  return `removed user "${user.name}" (${user.id}); ${jobs} of theirs cancelled`;
}

async function adminToken(config: Config): Promise<string> {
  if (config.adminToken) return config.adminToken;
  const file = config.adminTokenFile ?? path.join(config.dataDir, 'admin-token');
  const token = (await readFile(file, 'utf8').catch(() => '')).split('\n')[0].trim();
  if (!token) throw new Error(`no admin token: set ADMIN_TOKEN or ADMIN_TOKEN_FILE (looked in ${file})`);
  return token;
}

/** The API's own words for a refusal (`{error, message}`), with the status. */
function refusal(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    if (body.message) return `${body.message} (HTTP ${status}${body.error ? ` ${body.error}` : ''})`;
  } catch {
    // not JSON: a proxy's page
  }
  return `HTTP ${status}`;
}

/**
 * `vcfarm users ...`: the admin users API from the command line. It goes through the API
 * rather than Redis, so validation, key hashing and clean-up happen in one place.
 * Prints the answer in words on stdout (with --json the API's JSON), a refusal in words on
 * stderr (exit 1); returns the exit code.
 */
async function users(
  [sub, id, ...extra]: string[],
  plan: string | undefined,
  json: boolean,
  config: Config,
  env: NodeJS.ProcessEnv,
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  const refuse = () => {
    out(USAGE);
    return 2;
  };
  const wantsId = sub === 'add' || sub === 'remove' || sub === 'rotate-key';
  if (extra.length > 0 || (wantsId ? !id : id !== undefined) || (plan !== undefined && sub !== 'add'))
    return refuse();
  const base = (env.VCFARM_URL ?? `http://127.0.0.1:${config.port}`).replace(/\/$/, '');
  const call = async (method: string, url: string, body?: unknown, show = (text: string) => text) => {
    const token = await adminToken(config);
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).catch((e: Error) => {
      // undici says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND) is its cause.
      const reason = (e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.message;
      throw new Error(`cannot reach the API at ${base} (${reason}): is it running? (VCFARM_URL sets where)`);
    });
    const text = await res.text();
    if (res.ok) {
      out(show(text));
      return 0;
    }
    err(`vcfarm users ${sub}: ${refusal(res.status, text)}`);
    return 1;
  };
  const words = (show: (text: string) => string) => (json ? undefined : show);
  if (sub === 'add')
    return call(
      'POST',
      '/api/admin/users',
      { name: id, plan: plan ?? config.plans.anonymousPlan },
      words(created),
    );
  if (sub === 'list') return call('GET', '/api/admin/users', undefined, words(userTable));
  if (sub === 'remove')
    return call('DELETE', `/api/admin/users/${encodeURIComponent(id)}`, undefined, words(removed));
  if (sub === 'rotate-key')
    return call('POST', `/api/admin/users/${encodeURIComponent(id)}/keys`, undefined, words(rotated(id)));
  return refuse();
}

export const command: Command = {
  usage: USAGE,
  options: { plan: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run({ values, positionals }, config) {
    const plan = typeof values.plan === 'string' ? values.plan : undefined;
    return users(
      positionals,
      plan,
      values.json === true,
      config,
      process.env,
      (s) => process.stdout.write(`${s}\n`),
      (s) => process.stderr.write(`${s}\n`),
    );
  },
};
