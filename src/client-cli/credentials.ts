import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiError, VcfarmApi } from './api.js';

/** `$XDG_CONFIG_HOME/vcfarm` (default ~/.config/vcfarm): where an anonymous session is kept. */
export function configDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'vcfarm');
}

type Sessions = Record<string, { token: string; userId: string }>;

async function readSessions(file: string): Promise<Sessions> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Sessions;
  } catch {
    return {};
  }
}

/**
 * The client's API: with VCFARM_API_KEY that key; otherwise the anonymous session kept for this
 * service URL in the config dir (mode 0600), made anew when there is none or it has expired.
 */
export async function connect(baseUrl: string, env: NodeJS.ProcessEnv): Promise<VcfarmApi> {
  if (env.VCFARM_API_KEY) return new VcfarmApi(baseUrl, env.VCFARM_API_KEY);
  const dir = configDir(env);
  const file = path.join(dir, 'sessions.json');
  const sessions = await readSessions(file);
  const known = sessions[baseUrl];
  if (known) {
    const api = new VcfarmApi(baseUrl, known.token);
    try {
      await api.call('GET', '/api/workspace');
      return api;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
    }
  }
  const session = await VcfarmApi.session(baseUrl);
  sessions[baseUrl] = session;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}`;
  await writeFile(tmp, JSON.stringify(sessions, null, 2), { mode: 0o600 });
  await rename(tmp, file);
  return new VcfarmApi(baseUrl, session.token);
}
