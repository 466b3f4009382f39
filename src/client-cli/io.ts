import { accessSync, constants, type Stats, statSync } from 'node:fs';
import { ApiError } from './api.js';

/** Where a command writes and what it reads: the process's in production, a test's own otherwise. */
export interface ClientIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** A command-line mistake: usage is printed and the exit status is 2. */
export class UsageError extends Error {}

/** The help lines every client command ends with: where the service and the identity come from. */
export const ENV_HELP = `  VCFARM_URL          the service, when --url is not given
  VCFARM_API_KEY      your API key (vck_...); unset: an anonymous session, kept per service in
                      $XDG_CONFIG_HOME/vcfarm/sessions.json (default ~/.config/vcfarm)`;

/**
 * Refuses what cannot be sent as a file before anything is uploaded: a directory (or a file that
 * cannot be read) otherwise fails inside fetch, where it read as an unreachable service.
 */
export function assertReadableFile(file: string): void {
  let stat: Stats;
  try {
    stat = statSync(file);
    accessSync(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}`);
  }
  if (!stat.isFile()) throw new UsageError(`not a file: ${file}`);
}

/**
 * The service's base URL: --url, else VCFARM_URL, else http://localhost:8080. One that is not an
 * http(s) URL is a usage mistake (exit 2 at once), not a service to retry until it answers.
 */
export function baseUrlOf(env: NodeJS.ProcessEnv, flag: string | undefined): string {
  const raw = flag ?? env.VCFARM_URL ?? 'http://localhost:8080';
  const from = flag !== undefined ? '--url' : 'VCFARM_URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${from} must be an http:// or https:// URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${from} must be an http:// or https:// URL, got "${raw}"`);
  return raw.replace(/\/+$/, '');
}

export function printJson(io: ClientIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function numberOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${raw}"`);
  return n;
}

/**
 * Runs a request whose one input the service checks is the ID typed on the command line: a
 * validation refusal (matched by its code) is then a usage mistake about that ID, told in the
 * command's words rather than the API's field name (`params.id`).
 */
export async function withTypedId<T>(id: string, what: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    if (err instanceof ApiError && err.code === 'VC_ERR_VALIDATION')
      throw new UsageError(`"${id}" is not ${what}: ids are 8-64 letters, digits, '-' or '_'`);
    throw err;
  }
}
