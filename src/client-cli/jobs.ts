import { parseArgs } from 'node:util';
import type { ConversionJobView } from '../queue/core.js';
import { connect } from './credentials.js';
import { baseUrlOf, type ClientIo, printJson, UsageError } from './io.js';

export const JOBS_USAGE = `usage: vcfarm jobs list | show ID | cancel ID   [--json] [--url URL]
  list              your jobs, newest first (--state completed,failed  --limit 1..100)
  show ID           one job
  cancel ID         cancels a queued job or stops a running one
  --json            JSON on stdout
  --url URL         the service (default $VCFARM_URL, else http://localhost:8080)
  -h, --help        this text`;

function line(j: ConversionJobView): string {
  const pct = `${Math.round(j.progress * 100)}%`.padStart(4);
  const err = j.error ? `  ${j.error.code}: ${j.error.message}` : '';
  return `${j.id}  ${j.state.padEnd(9)} ${pct}  ${j.filename} → ${j.outputFormat}${err}`;
}

export async function jobsCommand(argv: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      state: { type: 'string' },
      limit: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [action, ...rest] = positionals;
  if (values.help) {
    io.stdout.write(`${JOBS_USAGE}\n`);
    return 0;
  }
  if (
    action === 'list'
      ? rest.length !== 0
      : action === 'show' || action === 'cancel'
        ? rest.length !== 1
        : true
  )
    throw new UsageError(action ? `jobs ${action}: wrong arguments` : 'jobs needs an action');

  const api = await connect(baseUrlOf(io.env, values.url), io.env);
  if (action === 'list') {
    const query = new URLSearchParams();
    if (values.state) query.set('state', values.state);
    if (values.limit) query.set('limit', values.limit);
    const jobs = await api.jobs(query.size ? `?${query}` : '');
    if (values.json) printJson(io, jobs);
    else for (const j of jobs) io.stdout.write(`${line(j)}\n`);
    return 0;
  }
  const job = action === 'show' ? await api.job(rest[0]) : await api.cancel(rest[0]);
  if (values.json) printJson(io, job);
  else io.stdout.write(`${line(job)}\n`);
  return 0;
}
