import { existsSync, rmSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_NAME, OUTPUT_FORMATS, PITCH_SEMITONES, STRENGTH } from '../api/job-limits.js';
import type { ConversionJobView } from '../queue/core.js';
import { ApiError, type VcfarmApi } from './api.js';
import { joinNegativeValues } from './args.js';
import { connect } from './credentials.js';
import { progressDisplay } from './display.js';
import { followPartial } from './follow.js';
import {
  assertReadableFile,
  baseUrlOf,
  type ClientIo,
  ENV_HELP,
  numberOption,
  printJson,
  UsageError,
} from './io.js';
import { JobWatcher } from './watch.js';

const CONVERT_USAGE = `usage: vcfarm convert FILE... [options]
  Uploads each file, converts it, shows progress and downloads the results.
  --voice NAME|ID     target voice: one of yours (vcfarm voices list) or a preset; none: pitch only
  --strength N        0..1, how far toward the target voice (default 1)
  --pitch N           extra pitch shift in semitones, -24..24 (default 0), e.g. --pitch -3
  --format F          wav | mp3 | ogg | flac (default wav)
  --model NAME        model folder (default: the --voice's model, else the service's default)
  --out DIR           where results go (default .): FILE's name with the format's extension; two
                      FILEs with one name, or a result already there, are refused before anything
                      is sent
  --overwrite         replace results already in --out
  --follow            write each result while it is converted: the output file grows as the job
                      runs (playable from its first seconds) and ends as the exact finished file
  --out -             with one FILE: the audio on stdout as it is converted, for piping into a
                      player (implies --follow; progress stays on stderr)
  --url URL           the service (default $VCFARM_URL, else http://localhost:8080)
  --json              print the outcome as JSON on stdout
  -h, --help          this text
${ENV_HELP}
  Ctrl-C cancels the jobs this command started.
  Exit status: 0 every file converted; 1 a file failed or the service refused (the reason on
  stderr); 2 wrong arguments or options; 130 interrupted by Ctrl-C.`;

interface Outcome {
  file: string;
  jobId: string | null;
  state: string;
  output: string | null;
  error: { code: string; message: string } | null;
}

/**
 * A voice given by id, or by name among the user's voices and the presets (a preset by the human
 * name the page shows, "Walter", or its file's, "espeak-m3"): exactly one must match, among those
 * of `--model` when given. A preset is one model's: its model goes with it (presets of two models
 * may share an id).
 */
async function resolveVoice(
  api: VcfarmApi,
  wanted: string,
  model: string | undefined,
): Promise<{ id: string; model: string }> {
  const { voices, presets } = await api.voices();
  const all = [
    ...voices.map((v) => ({ id: v.id, model: v.model, names: [v.name] })),
    ...presets.map((p) => ({ id: p.id, model: p.model, names: [p.displayName, p.name] })),
  ].filter((v) => model === undefined || v.model === model);
  const byId = all.filter((v) => v.id === wanted);
  const named = byId.length
    ? byId
    : all.filter((v) => v.names.some((n) => n.toLowerCase() === wanted.toLowerCase()));
  if (named.length === 1) return { id: named[0].id, model: named[0].model };
  if (named.length > 1) {
    const models = [...new Set(named.map((v) => v.model))];
    throw new UsageError(
      models.length > 1 && model === undefined
        ? `${named.length} voices are called "${wanted}", of models ${models.join(', ')}: add --model NAME`
        : `${named.length} voices are called "${wanted}": give an id (vcfarm voices list)`,
    );
  }
  throw new UsageError(
    `no voice "${wanted}"${model === undefined ? '' : ` of model ${model}`}: see vcfarm voices list`,
  );
}

function outputPath(outDir: string, file: string, format: string): string {
  const base = path.basename(file, path.extname(file));
  const plain = path.join(outDir, `${base}.${format}`);
  return path.resolve(plain) === path.resolve(file)
    ? path.join(outDir, `${base}.converted.${format}`)
    : plain;
}

/**
 * Each FILE's result file, decided before anything is sent: two FILEs that would write one file, or
 * a file already there (without --overwrite), are a usage error naming them, never a silent overwrite.
 */
function plannedOutputs(
  files: string[],
  outDir: string,
  format: string,
  overwrite: boolean,
): Map<string, string> {
  const dests = new Map<string, string>();
  const byDest = new Map<string, string>();
  for (const file of files) {
    const dest = outputPath(outDir, file, format);
    const other = byDest.get(path.resolve(dest));
    if (other !== undefined)
      throw new UsageError(
        other === file
          ? `${file} is given twice`
          : `${other} and ${file} would both be written to ${dest}: convert them with different --out`,
      );
    if (!overwrite && existsSync(dest))
      throw new UsageError(`${dest} already exists: pass --overwrite to replace it, or choose another --out`);
    byDest.set(path.resolve(dest), file);
    dests.set(file, dest);
  }
  return dests;
}

/**
 * The job's options checked here, with the API's own constants, before anything is sent: a value the
 * server would refuse is a usage error (exit 2) naming the option, not an upload left behind.
 */
function checkJobOptions(o: {
  format: string;
  model?: string;
  voice?: string;
  strength?: number;
  pitch?: number;
}): void {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(o.format))
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}, got "${o.format}"`);
  for (const [name, value, range] of [
    ['strength', o.strength, STRENGTH],
    ['pitch', o.pitch, PITCH_SEMITONES],
  ] as const)
    if (value !== undefined && (value < range.minimum || value > range.maximum))
      throw new UsageError(`--${name} must be from ${range.minimum} to ${range.maximum}, got ${value}`);
  if (o.strength !== undefined && o.voice === undefined)
    throw new UsageError('--strength needs --voice (without a voice, only the pitch changes)');
  if (o.model !== undefined && !new RegExp(MODEL_NAME.pattern).test(o.model))
    throw new UsageError(`--model must be ${MODEL_NAME.words}, got "${o.model}"`);
}

const OPTIONS = {
  voice: { type: 'string' },
  strength: { type: 'string' },
  pitch: { type: 'string' },
  format: { type: 'string', default: 'wav' },
  model: { type: 'string' },
  out: { type: 'string', default: '.' },
  overwrite: { type: 'boolean', default: false },
  follow: { type: 'boolean', default: false },
  url: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function convertCommand(argv: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({
    // `--pitch -3` as typed, not only `--pitch=-3`.
    args: joinNegativeValues(argv, OPTIONS, ['pitch', 'strength']),
    allowPositionals: true,
    options: OPTIONS,
  });
  if (values.help) {
    io.stdout.write(`${CONVERT_USAGE}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('give at least one FILE to convert');
  for (const f of positionals) assertReadableFile(f);
  const strength = numberOption('strength', values.strength);
  const pitch = numberOption('pitch', values.pitch);
  checkJobOptions({ ...values, strength, pitch });
  const toStdout = values.out === '-';
  if (toStdout && positionals.length !== 1) throw new UsageError('--out - takes exactly one FILE');
  if (toStdout && values.json)
    throw new UsageError('--json writes to stdout, which --out - fills with audio');
  const follow = values.follow || toStdout;
  const dests = toStdout
    ? new Map<string, string>()
    : plannedOutputs(positionals, values.out, values.format, values.overwrite);

  const api = await connect(baseUrlOf(io.env, values.url), io.env);
  const voice = values.voice ? await resolveVoice(api, values.voice, values.model) : undefined;
  if (!toStdout) await mkdir(values.out, { recursive: true });
  const watcher = new JobWatcher(api);
  await watcher.open();
  const display = progressDisplay(io.stderr, positionals);
  const outcomes = new Map<string, Outcome>(
    positionals.map((f) => [f, { file: f, jobId: null, state: 'pending', output: null, error: null }]),
  );
  watcher.onChange(() => {
    for (const o of outcomes.values()) if (o.jobId) display.update(o.file, watcher.jobs.get(o.jobId));
  });
  const followers: Promise<void>[] = [];
  /** Files being written by followers: removed if the command is interrupted. */
  const growing = new Set<string>();
  const sink: FollowTarget = { io, toStdout, dests, growing };

  // Ctrl-C: cancel what this command started, then exit 130 (a second Ctrl-C leaves at once).
  let cancelling: Promise<unknown> | undefined;
  const onSigint = () => {
    if (cancelling) process.exit(130);
    display.stop();
    const started = [...outcomes.values()].filter((o) => o.jobId).map((o) => o.jobId as string);
    io.stderr.write(`\ncancelling ${started.length} job(s)…\n`);
    cancelling = Promise.allSettled(started.map((id) => api.cancel(id)));
    void cancelling.then(() => {
      watcher.close();
      for (const file of growing) rmSync(file, { force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSigint);
  try {
    for (const file of positionals) {
      if (cancelling) break;
      const outcome = outcomes.get(file) as Outcome;
      try {
        const upload = await api.upload(file);
        const job = await api.createJob({
          uploadId: upload.id,
          outputFormat: values.format,
          ...(pitch !== undefined ? { pitchSemitones: pitch } : {}),
          ...(voice ? { voiceId: voice.id } : {}),
          ...(strength !== undefined ? { strength } : {}),
          // The chosen voice's model (a preset of another model is not found under the default).
          ...(voice || values.model ? { model: voice?.model ?? values.model } : {}),
        });
        outcome.jobId = job.id;
        outcome.state = job.state;
        if (follow) followers.push(followInto(api, outcome, job.id, sink));
        if (!watcher.jobs.has(job.id)) await watcher.refresh(job.id);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        outcome.state = 'failed';
        outcome.error = { code: err.code, message: err.message };
      }
    }
    const ids = [...outcomes.values()].filter((o) => o.jobId).map((o) => o.jobId as string);
    await watcher.waitFinal(ids);
    await Promise.all(followers);
    if (cancelling) {
      await cancelling;
      return 130;
    }
    display.stop();
    for (const o of outcomes.values()) {
      if (!o.jobId) continue;
      const job = await api.job(o.jobId);
      o.state = job.state;
      o.error ??= job.error;
      if (follow) continue;
      if (job.state === 'completed') {
        const dest = dests.get(o.file) as string;
        await api.download(job.id, dest);
        o.output = dest;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    watcher.close();
  }
  const all = [...outcomes.values()];
  if (values.json) printJson(io, all);
  else
    for (const o of all)
      if (o.output) (toStdout ? io.stderr : io.stdout).write(`${o.file} → ${o.output}\n`);
      // The server's own words (the code is in --json).
      else io.stderr.write(`${o.file}: ${o.state}${o.error ? `: ${o.error.message}` : ''}\n`);
  return all.every((o) => o.state === 'completed' && o.output) ? 0 : 1;
}

interface FollowTarget {
  io: ClientIo;
  toStdout: boolean;
  /** Each FILE's result file (plannedOutputs). */
  dests: Map<string, string>;
  growing: Set<string>;
}

/**
 * --follow: writes the job's result while it is converted, to stdout or to its output file; a file
 * then takes the finished result's exact bytes (the muxer completes its header, e.g. mp3's Xing frame
 * or WAV's sizes, only at the end), and is removed if the job does not complete.
 */
async function followInto(api: VcfarmApi, o: Outcome, jobId: string, t: FollowTarget): Promise<void> {
  try {
    if (t.toStdout) {
      const out = t.io.stdout;
      let broken: Error | undefined;
      out.on('error', (err) => {
        broken = err;
      });
      const job = await followPartial(api, jobId, async (chunk) => {
        if (broken) throw broken;
        if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
      });
      if (job.state === 'completed') o.output = '(stdout)';
      return;
    }
    const dest = t.dests.get(o.file) as string;
    t.growing.add(dest);
    const file = await open(dest, 'w');
    let job: ConversionJobView;
    try {
      job = await followPartial(api, jobId, async (chunk) => {
        await file.write(chunk);
      });
    } finally {
      await file.close();
    }
    if (job.state === 'completed') {
      await api.download(jobId, dest);
      o.output = dest;
    } else await rm(dest, { force: true });
    t.growing.delete(dest);
  } catch (err) {
    const e = err as { code?: string; message: string };
    o.error = { code: err instanceof ApiError ? (e.code ?? '') : 'VC_CLIENT_OUTPUT', message: e.message };
  }
}
