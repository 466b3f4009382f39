/** Where a command writes and what it reads: the process's in production, a test's own otherwise. */
export interface ClientIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** A command-line mistake: usage is printed and the exit status is 2. */
export class UsageError extends Error {}

export function baseUrlOf(env: NodeJS.ProcessEnv, flag: string | undefined): string {
  return (flag ?? env.VCFARM_URL ?? 'http://localhost:8080').replace(/\/+$/, '');
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
