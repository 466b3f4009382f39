import { parseArgs } from 'node:util';
import { connect } from './credentials.js';
import {
  assertReadableFile,
  baseUrlOf,
  type ClientIo,
  ENV_HELP,
  printJson,
  UsageError,
  withTypedId,
} from './io.js';

const VOICES_USAGE = `usage: vcfarm voices list | clone NAME FILE | rm ID   [--json] [--url URL]
  list              your voices (state: pending, ready, failed) and the preset voices
  clone NAME FILE   makes a voice from a 3-60 s reference recording (analysed in the background)
  rm ID             removes one of your voices
  --json            JSON on stdout
  --url URL         the service (default $VCFARM_URL, else http://localhost:8080)
  -h, --help        this text
${ENV_HELP}`;

export async function voicesCommand(argv: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [action, ...rest] = positionals;
  if (values.help) {
    io.stdout.write(`${VOICES_USAGE}\n`);
    return 0;
  }
  const want = (n: number, what: string) => {
    if (rest.length !== n) throw new UsageError(`voices ${action} takes ${what}`);
  };
  if (action === 'list') want(0, 'no arguments');
  else if (action === 'clone') want(2, 'NAME FILE');
  else if (action === 'rm') want(1, 'an ID');
  else throw new UsageError(action ? `unknown voices action "${action}"` : 'voices needs an action');
  if (action === 'clone') assertReadableFile(rest[1]);

  const api = await connect(baseUrlOf(io.env, values.url), io.env);
  if (action === 'list') {
    const list = await api.voices();
    if (values.json) printJson(io, list);
    else {
      for (const v of list.voices)
        io.stdout.write(
          `${v.id}  ${v.state.padEnd(7)}  ${v.name}${v.error ? `  (${v.error.message})` : ''}\n`,
        );
      for (const p of list.presets)
        io.stdout.write(`${p.id}  preset   ${p.displayName}  (${p.model}): ${p.description}\n`);
    }
  } else if (action === 'clone') {
    const made = await api.cloneVoice(rest[0], rest[1]);
    if (values.json) printJson(io, made);
    else io.stdout.write(`${made.voice.id}  ${made.voice.state}  ${made.voice.name}\n`);
  } else {
    await withTypedId(rest[0], 'a voice id (see `vcfarm voices list`)', () => api.removeVoice(rest[0]));
    if (values.json) printJson(io, { removed: rest[0] });
    else io.stdout.write(`removed ${rest[0]}\n`);
  }
  return 0;
}
