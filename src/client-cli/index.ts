import { ApiError } from './api.js';
import { CONVERT_USAGE, convertCommand } from './convert.js';
import { type ClientIo, UsageError } from './io.js';
import { JOBS_USAGE, jobsCommand } from './jobs.js';
import { VOICES_USAGE, voicesCommand } from './voices.js';

/** The client commands `vcfarm` hands to this folder. */
export const CLIENT_COMMANDS = new Set(['convert', 'voices', 'jobs']);

const COMMANDS: Record<string, { run: (argv: string[], io: ClientIo) => Promise<number>; usage: string }> = {
  convert: { run: convertCommand, usage: CONVERT_USAGE },
  voices: { run: voicesCommand, usage: VOICES_USAGE },
  jobs: { run: jobsCommand, usage: JOBS_USAGE },
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
      io.stderr.write(`vcfarm ${command}: ${(err as Error).message}\n\n${cmd.usage}\n`);
      return 2;
    }
    throw err;
  }
}
