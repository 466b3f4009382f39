import { parseArgs } from 'node:util';
import { PAGE_LIMIT } from '../api/job-limits.js';
import type { ConversionJobView } from '../queue/core.js';
import { ApiError, type VcfarmApi } from './api.js';
import { connect } from './credentials.js';
import { baseUrlOf, type ClientIo, ENV_HELP, printJson, UsageError, withTypedId } from './io.js';

const JOBS_USAGE = `usage: vcfarm jobs list | show ID | cancel ID   [--json] [--url URL]
  list              your jobs, newest first (--state completed,failed  --limit 1..100)
  show ID           one job
  cancel ID         cancels a queued job or stops a running one; a job that had already
                    finished is left as it was, said on stderr, exit 1
  --json            JSON on stdout
  --url URL         the service (default $VCFARM_URL, else http://localhost:8080)
  -h, --help        this text
${ENV_HELP}`;

function line(j: ConversionJobView): string {
  const pct = `${Math.round(j.progress * 100)}%`.padStart(4);
  const err = j.error ? `  ${j.error.code}: ${j.error.message}` : '';
  const what = j.kind === 'clone' ? `voice clone "${j.filename}"` : `${j.filename} → ${j.outputFormat}`;
  return `${j.id}  ${j.state.padEnd(9)} ${pct}  ${what}${err}`;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** Cancels the job, or says why not when it had already finished (before, or while asked). */
async function cancelUnfinished(api: VcfarmApi, id: string): Promise<ConversionJobView | string> {
  const before = await api.job(id);
  const job = FINISHED.has(before.state)
    ? before
    : await api.cancel(id).catch(async (err) => {
        // It ended while asked: the API says so (409), the job says how.
        if (err instanceof ApiError && err.code === 'VC_ERR_JOB_FINISHED') return api.job(id);
        throw err;
      });
  if (FINISHED.has(before.state) || job.state === 'completed' || job.state === 'failed')
    return `job ${id} had already finished (${job.state}); nothing to cancel`;
  return job;
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

  // Checked with the API's own rule before any request: a value it would refuse is a usage mistake.
  if (values.limit !== undefined && !new RegExp(PAGE_LIMIT.pattern).test(values.limit))
    throw new UsageError(`--limit must be ${PAGE_LIMIT.words}, got "${values.limit}"`);
  const api = await connect(baseUrlOf(io.env, values.url), io.env);
  if (action === 'list') {
    const query = new URLSearchParams();
    if (values.state) query.set('state', values.state);
    if (values.limit) query.set('limit', values.limit);
    const jobs = await api.jobs(query.size ? `?${query}` : '');
    if (values.json) printJson(io, jobs);
    else if (jobs.length === 0) io.stdout.write(values.state ? `no ${values.state} jobs\n` : 'no jobs\n');
    else for (const j of jobs) io.stdout.write(`${line(j)}\n`);
    return 0;
  }
  const job = await withTypedId(rest[0], 'a job id (see `vcfarm jobs list`)', () =>
    action === 'show' ? api.job(rest[0]) : cancelUnfinished(api, rest[0]),
  );
  if (typeof job === 'string') {
    io.stderr.write(`vcfarm jobs cancel: ${job}\n`);
    return 1;
  }
  if (values.json) printJson(io, job);
  else io.stdout.write(`${line(job)}\n`);
  return 0;
}
