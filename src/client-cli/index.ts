import { ApiError } from './api.js';
import { convertCommand } from './convert.js';
import { type ClientIo, UsageError } from './io.js';
import { jobsCommand } from './jobs.js';
import { voicesCommand } from './voices.js';

/** The client commands `vcfarm` hands to this folder. */
export const CLIENT_COMMANDS = new Set(['convert', 'voices', 'jobs']);

const COMMANDS: Record<string, { run: (argv: string[], io: ClientIo) => Promise<number> }> = {
  convert: { run: convertCommand },
  voices: { run: voicesCommand },
  jobs: { run: jobsCommand },
};

/**
 * Runs a client command against a vcfarm service (VCFARM_URL, VCFARM_API_KEY) and returns the
 * exit status: 0 done, 1 the service refused or a job failed (its message on stderr), 2 usage.
 */
export async function runClient(command: string, argv: string[], io: ClientIo): Promise<number> {
  const cmd = COMMANDS[command];
  try {
    return await cmd.run(argv, io);
  } catch (err) {
    if (err instanceof ApiError) {
      io.stderr.write(`vcfarm ${command}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    // parseArgs' own errors (unknown option, missing value) are usage errors too.
    const code = (err as { code?: string }).code ?? '';
    if (err instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      // One line and where the help is: the whole help would bury the mistake.
      io.stderr.write(`vcfarm ${command}: ${(err as Error).message}\n${seeHelp(command)}\n`);
      return 2;
    }
    throw err;
  }
}

/** The line after a usage mistake. */
export function seeHelp(command: string): string {
  return `see \`vcfarm ${command} --help\``;
}
