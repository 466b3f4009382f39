import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../config/index.js';

/** What `parseArgs` found: flag values by name and the positionals, in order. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * One `vcfarm` command, in a module of its own that the CLI imports only when that command runs
 * (so `vcfarm api` never loads worker code). A new command is a module exporting `command` and a
 * line in src/cli.ts's table.
 */
export interface Command {
  /** The full `--help` text. */
  usage: string;
  /** Flags besides --help (node:util parseArgs form); any other flag is refused. */
  options?: ParseArgsConfig['options'];
  /** Whether the command takes positional arguments. */
  positionals?: boolean;
  /** Runs the command; a number is the process's exit code (else it keeps running until stopped). */
  run(args: ParsedArgs, config: Config): Promise<number | undefined>;
}
