#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { Command } from './commands/command.js';
import type { Config } from './config/index.js';

/**
 * The commands, each loaded only when it runs: `vcfarm api` and `vcfarm users` never import the
 * worker's code (Piscina, the pool, the engine). A new command is one line here and one module.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  all: {
    summary: 'single-machine service: Redis (unless REDIS_URL), one API, one worker process',
    load: () => import('./commands/all.js'),
  },
  api: {
    summary: 'one API instance (needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)',
    load: () => import('./commands/api.js'),
  },
  worker: {
    summary:
      'one worker process with a pinned thread pool (needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)',
    load: () => import('./commands/worker.js'),
  },
  users: {
    summary: 'accounts and API keys: users add NAME --plan pro | list | remove ID | rotate-key ID',
    load: () => import('./commands/users.js'),
  },
};

/** Client commands: against VCFARM_URL with VCFARM_API_KEY or a kept anonymous session (src/client-cli). */
const CLIENT_COMMANDS: Record<string, string> = {
  convert: 'FILE... --voice NAME|ID [--strength 0.8] [--pitch 2] [--format mp3] [--out DIR]',
  voices: 'list | clone NAME FILE | rm ID',
  jobs: 'list | show ID | cancel ID',
};

const USAGE = `usage: vcfarm <command> [--help]
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}
client commands (against VCFARM_URL with VCFARM_API_KEY or a kept anonymous session; --help on each):
${Object.entries(CLIENT_COMMANDS)
  .map(([name, summary]) => `  ${name.padEnd(8)} ${summary}`)
  .join('\n')}`;

function exitWith(code: number, text: string): never {
  (code === 0 ? process.stdout : process.stderr).write(`${text}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') exitWith(0, USAGE);
  if (Object.hasOwn(CLIENT_COMMANDS, name)) {
    // The client needs no server configuration; loaded only when asked for.
    const { runClient } = await import('./client-cli/index.js');
    const { stdout, stderr, env } = process;
    process.exit(await runClient(name, rest, { stdout, stderr, env }));
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) exitWith(2, `vcfarm: unknown command "${name}"\n${USAGE}`);
  const { command } = await entry.load();
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
  } catch (err) {
    exitWith(2, `vcfarm ${name}: ${(err as Error).message}\n${command.usage}`);
  }
  if (parsed.values.help) exitWith(0, command.usage);
  // Loaded here, not at the top: its schemas import TypeBox (about 680 modules, most of a second of start-up),
  // which `--help`, a usage mistake and the client commands do not need.
  const { loadConfig } = await import('./config/index.js');
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    exitWith(78, `vcfarm: ${(err as Error).message}`);
  }
  const code = await command.run(
    {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    },
    config,
  );
  if (code !== undefined) process.exit(code);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`vcfarm: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
