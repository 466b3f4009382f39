import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { UNAVAILABLE_RETRIES, unavailableWaitMs } from '../../src/client-cli/retry-after.js';
import {
  curlLine,
  expiryText,
  formatBytes,
  formatSeconds,
  ordinal,
  placeText,
  rateText,
  relativeTime,
  resultName,
  safeFileName,
  settingsText,
  shellQuote,
  speedText,
  voiceDescription,
  waitText,
} from '../src/lib/format.js';
import {
  applyMessage,
  conversionStatus,
  type Jobs,
  putJob,
  stateText,
  voicesAsJobsStand,
} from '../src/lib/jobs.js';
import { limitsText, refusalBeforeUpload } from '../src/lib/limits.js';
import { type JobView, presetKey, type Voice, type Workspace } from '../src/lib/types.js';

test('sizes, durations and rates read as people write them', () => {
  assert.equal(formatBytes(52_428_800), '50 MB');
  assert.equal(formatBytes(2_304_044), '2.2 MB');
  assert.equal(formatBytes(1024), '1 KB');
  assert.equal(formatBytes(900), '900 bytes');
  assert.equal(formatSeconds(600), '10 min');
  assert.equal(formatSeconds(3600), '1 h');
  assert.equal(formatSeconds(20), '20 s');
  assert.equal(rateText({ max: 5, windowSec: 60 }, 'conversions'), '5 conversions a minute');
  assert.equal(rateText({ max: 10, windowSec: 300 }, 'uploads'), '10 uploads per 5 min');
  assert.equal(waitText(0), '1 s');
  assert.equal(waitText(600), '10 min');
  assert.equal(resultName('my.talk.wav', 'ogg'), 'my.talk-converted.ogg');
  assert.equal(expiryText(3 * 86_400 + 5), 'expires in 3 days');
  assert.equal(expiryText(86_400), 'expires in 1 day');
  assert.equal(expiryText(5 * 3600 + 3599), 'expires in 5 h');
  assert.equal(expiryText(720), 'expires in 12 min');
  assert.equal(expiryText(59), 'expires soon');
  assert.equal(expiryText(0), 'expires soon');
});

const HOSTILE = [
  "x'; touch $HOME-PWNED; echo '.wav",
  "it's",
  "''",
  '$(touch pwned)',
  '`touch pwned`',
  'a\nb\r\nc',
  '-rf',
  '--output=/etc/passwd',
  '"; rm -rf ~; "',
  '\\ \t *?[a]{b,c} ~ !! #',
  '../../.bashrc',
  '\u202egnp.exe',
  'ü é 日本',
  '',
];

/** The words `sh` makes of a line, each exactly as it arrives in a program's argv. */
function shellWords(line: string): string[] {
  const out = execFileSync('sh', ['-c', `set -- ${line}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

test('a quoted word reaches the program unchanged, whatever it holds', () => {
  for (const word of HOSTILE) assert.deepEqual(shellWords(shellQuote(word)), [word], JSON.stringify(word));
  assert.deepEqual(shellWords(HOSTILE.map(shellQuote).join(' ')), HOSTILE);
});

test('a safe file name keeps letters, digits, dots and dashes, and never starts like an option or a hidden file', () => {
  assert.equal(safeFileName("it's mine.mp3"), 'it_s_mine.mp3');
  assert.equal(
    safeFileName("x'; touch $HOME-PWNED; echo '-converted.mp3"),
    'x_touch_HOME-PWNED_echo_-converted.mp3',
  );
  assert.equal(safeFileName('../../.bashrc'), 'bashrc');
  assert.equal(safeFileName('-rf-converted.wav'), 'rf-converted.wav');
  assert.equal(safeFileName('ü é 日本.ogg'), 'ü_é_日本.ogg');
  assert.equal(safeFileName("'$()`"), 'audio');
  assert.equal(safeFileName('a'.repeat(300)).length, 120);
  for (const name of HOSTILE)
    assert.match(safeFileName(name), /^[\p{L}\p{M}\p{N}][\p{L}\p{M}\p{N}._-]*$/u, name);
});

test('the copyable curl line is four words: curl, -o, a safe name and the link', () => {
  const url = "http://localhost:8080/api/jobs/j1/result?exp=1&sig=ab'c";
  for (const name of HOSTILE) {
    const [cmd, flag, file, link, ...rest] = shellWords(curlLine(url, name, 'mp3'));
    assert.deepEqual([cmd, flag, link, rest], ['curl', '-o', url, []], JSON.stringify(name));
    assert.equal(file, resultName(safeFileName(name), 'mp3'));
    assert.match(file, /^[\p{L}\p{M}\p{N}][\p{L}\p{M}\p{N}._-]*-converted\.mp3$/u);
  }
});

const workspace = (over: Partial<Workspace['usage']> = {}, remaining: number | null = 5): Workspace => ({
  plan: 'free',
  usage: { bytes: 0, files: 0, queuedJobs: 0, ...over },
  quota: {
    maxBytes: 10_000_000,
    maxFiles: 10,
    maxUploadBytes: 1_048_576,
    maxDurationSec: 600,
    maxQueuedJobs: 2,
  },
  rateLimits: {
    conversions: { max: 5, windowSec: 60, remaining, resetInSec: 42 },
    uploads: { max: 10, windowSec: 300, remaining: 10, resetInSec: 0 },
    voiceClones: { max: 3, windowSec: 3600, remaining: 3, resetInSec: 0 },
  },
  files: [],
});

test('limits are refused before an upload when the API told the page enough to know', () => {
  const file = { name: 'talk.wav', size: 2_304_044 };
  const small = { name: 'talk.wav', size: 1000 };
  assert.match(limitsText(workspace()), /files up to 1 MB and 10 min long.*5 conversions a minute/);
  assert.equal(
    refusalBeforeUpload(workspace(), file, 'conversion'),
    'talk.wav is 2.2 MB; your plan accepts files up to 1 MB.',
  );
  assert.equal(refusalBeforeUpload(workspace(), small, 'conversion'), undefined);
  assert.equal(
    refusalBeforeUpload(workspace({}, 0), small, 'conversion'),
    'You have used your 5 conversions a minute; try again in 42 s.',
  );
  // Unknown (the counters could not be read): the API decides.
  assert.equal(refusalBeforeUpload(workspace({}, null), small, 'conversion'), undefined);
  // A clone is not a conversion: the conversions rate and the queued-jobs quota do not apply.
  assert.equal(refusalBeforeUpload(workspace({ queuedJobs: 2 }, 0), small, 'clone'), undefined);
  assert.match(
    refusalBeforeUpload(workspace({ queuedJobs: 2 }), small, 'conversion') ?? '',
    /2 jobs waiting/,
  );
  assert.equal(refusalBeforeUpload(undefined, file, 'conversion'), undefined);
});

const job = (over: Partial<JobView> = {}): JobView => ({
  id: 'j1',
  kind: 'convert',
  voiceId: null,
  state: 'queued',
  progress: 0,
  stage: null,
  uploadId: 'u1',
  filename: 'talk.wav',
  outputFormat: 'ogg',
  pitchSemitones: 0,
  strength: null,
  model: null,
  durationSec: 3,
  priority: 'normal',
  attempts: 0,
  createdAt: 1,
  startedAt: null,
  finishedAt: null,
  error: null,
  resultUrl: null,
  ...over,
});

test("a job's signed links stay as known while they have half the fresh one's life left: players keep their source", () => {
  const now = Math.floor(Date.now() / 1000);
  const result = (exp: number, sig: string) => `/api/jobs/j1/result?exp=${exp}&sig=${sig}`;
  const source = (exp: number, sig: string) => `/api/uploads/u1/audio?user=u&exp=${exp}&sig=${sig}`;
  const first = job({
    state: 'completed',
    resultUrl: result(now + 3600, 'a'),
    sourceUrl: source(now + 3600, 'b'),
  });
  let jobs: Jobs = putJob(new Map(), first);
  // 1. The list read again a minute later (a filter change): the same links, so no player reloads.
  jobs = putJob(
    jobs,
    job({ state: 'completed', resultUrl: result(now + 3660, 'c'), sourceUrl: source(now + 3660, 'd') }),
  );
  assert.equal(jobs.get('j1')?.resultUrl, first.resultUrl);
  assert.equal(jobs.get('j1')?.sourceUrl, first.sourceUrl);
  // 2. Once the known link has less than half the fresh one's life left, the fresh one replaces it.
  jobs = putJob(new Map(), job({ state: 'completed', resultUrl: result(now + 1000, 'e') }));
  jobs = putJob(jobs, job({ state: 'completed', resultUrl: result(now + 3600, 'f') }));
  assert.equal(jobs.get('j1')?.resultUrl, result(now + 3600, 'f'));
  // 3. A link to something else (another user, the partial stream) is never kept in its place.
  jobs = putJob(new Map(), job({ state: 'completed', sourceUrl: source(now + 3600, 'g') }));
  const other = `/api/uploads/u1/audio?user=v&exp=${now + 3600}&sig=h`;
  assert.equal(putJob(jobs, job({ state: 'completed', sourceUrl: other })).get('j1')?.sourceUrl, other);
  // 4. A result gone is gone, whatever link was known.
  jobs = putJob(new Map(), job({ state: 'completed', resultUrl: result(now + 3600, 'i') }));
  assert.equal(
    putJob(jobs, job({ state: 'completed', resultUrl: null, resultGone: 'deleted' })).get('j1')?.resultUrl,
    null,
  );
});

test('events fold into jobs; a finished job stays finished whatever arrives later', () => {
  let jobs: Jobs = putJob(new Map(), job());
  jobs = applyMessage(jobs, {
    type: 'progress',
    jobId: 'j1',
    progress: 0.5,
    stage: 'converting',
    eventId: '1-0',
  }).jobs;
  assert.equal(conversionStatus(jobs.get('j1') as JobView).text, 'talk.wav: converting 50%.');
  // Unknown jobs ask for the job's view (kind, names).
  assert.equal(applyMessage(jobs, { type: 'cancelled', jobId: 'other', eventId: '2-0' }).needsView, 'other');
  const done = applyMessage(jobs, {
    type: 'completed',
    jobId: 'j1',
    resultUrl: '/r?exp=1&sig=s',
    realTimeFactor: 9,
    eventId: '3-0',
  });
  assert.equal(done.jobs.get('j1')?.resultUrl, '/r?exp=1&sig=s');
  assert.equal(done.jobs.get('j1')?.state, 'completed');
  jobs = putJob(jobs, job({ state: 'cancelled' }));
  assert.equal(conversionStatus(jobs.get('j1') as JobView).text, 'talk.wav: cancelled.');
  // A late answer that still says "active" does not reopen it, nor does a progress event.
  assert.equal(putJob(jobs, job({ state: 'active' })).get('j1')?.state, 'cancelled');
  const late = applyMessage(jobs, {
    type: 'progress',
    jobId: 'j1',
    progress: 0.9,
    stage: 'x',
    eventId: '4-0',
  });
  assert.equal(late.jobs.get('j1')?.state, 'cancelled');
  assert.equal(late.needsView, undefined);
  // Removed (in this tab or another): the finished job goes; an unknown one asks for nothing.
  const removed = applyMessage(jobs, { type: 'removed', jobId: 'j1', eventId: '5-0' });
  assert.equal(removed.jobs.has('j1'), false);
  assert.equal(removed.needsView, undefined);
  const unknown = applyMessage(removed.jobs, { type: 'removed', jobId: 'gone', eventId: '6-0' });
  assert.equal(unknown.jobs, removed.jobs);
  assert.equal(unknown.needsView, undefined);
});

test("a cancelled job's card says who cancelled it once its view says so", () => {
  const cancelled = (message?: string) =>
    job({ state: 'cancelled', error: message ? { code: 'VC_ERR_CANCELLED', message } : null });
  assert.equal(stateText(cancelled('cancelled by the user')), 'cancelled by you');
  assert.equal(stateText(cancelled('cancelled by an operator')), 'cancelled by an operator');
  // Known from a live event only: who is not known yet.
  assert.equal(stateText(cancelled()), 'cancelled');
  assert.equal(stateText({ ...cancelled('cancelled by the user'), kind: 'clone' }), 'cancelled by you');
  assert.equal(
    conversionStatus(cancelled('cancelled by an operator')).text,
    'talk.wav: cancelled by an operator.',
  );
});

test('cards say when, how fast and with what settings', () => {
  const now = 1_000_000_000;
  assert.equal(relativeTime(now - 10_000, now), 'just now');
  assert.equal(relativeTime(now - 3 * 60_000, now), '3 min ago');
  assert.equal(relativeTime(now - 2 * 3_600_000, now), '2 h ago');
  assert.equal(relativeTime(now - 86_400_000, now), '1 day ago');
  assert.equal(speedText(1000, 2200, 10, 'completed'), '1.2 s, 8.3× real time');
  assert.equal(speedText(null, 2200, 10, 'completed'), undefined);
  // A job stopped part-way converted part of its audio: no speed against the whole of it.
  assert.equal(speedText(1000, 7000, 540, 'cancelled'), '6.0 s');
  assert.equal(speedText(1000, 7000, 540, 'failed'), '6.0 s');
  assert.equal(
    settingsText({ pitchSemitones: 2, strength: 0.8, outputFormat: 'ogg' }, 'Anna'),
    'voice Anna · strength 80% · +2 semitones · OGG',
  );
  assert.equal(
    settingsText({ pitchSemitones: -3, strength: null, outputFormat: 'wav' }, undefined),
    'pitch shift only · -3 semitones · WAV',
  );
});

test('a snapshot does not bring back jobs older than the pages loaded', () => {
  const jobs = putJob(new Map(), job({ id: 'new', createdAt: 100, state: 'completed' }));
  const snap = {
    type: 'snapshot' as const,
    eventId: '1-0',
    jobs: [
      job({ id: 'new', createdAt: 100, state: 'completed' }),
      job({ id: 'old', createdAt: 50, state: 'completed' }),
    ],
  };
  assert.deepEqual([...applyMessage(jobs, snap, 100).jobs.keys()], ['new']);
  assert.deepEqual([...applyMessage(jobs, snap).jobs.keys()], ['new', 'old']);
});

test("a queued job's place reads as words, with the wait when there is one", () => {
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal), [
    '1st',
    '2nd',
    '3rd',
    '4th',
    '11th',
    '12th',
    '13th',
    '21st',
    '22nd',
    '101st',
    '111th',
  ]);
  assert.equal(placeText(1, 40), 'next in line · starts in about 40 s');
  assert.equal(placeText(3, null), '3rd in line');
  assert.equal(placeText(12, 600), '12th in line · starts in about 10 min');
});

test('a preset reads by how its voice sounds: low, middle or high, with its median pitch', () => {
  assert.equal(voiceDescription(102.6), 'low voice, about 103 Hz');
  assert.equal(voiceDescription(177.79), 'middle voice, about 178 Hz');
  assert.equal(voiceDescription(206.5), 'high voice, about 207 Hz');
  assert.equal(voiceDescription(null), 'pitch unknown');
  assert.equal(voiceDescription(0), 'pitch unknown');
});

test('a pending voice reads as its clone job stands, as GET /api/voices would answer', () => {
  const voice = (id: string, jobId: string | null, state: Voice['state'] = 'pending'): Voice => ({
    id,
    name: id,
    state,
    error: null,
    jobId,
    previewUrl: `/api/voices/${id}/preview`,
    model: 'default',
  });
  const clone = (id: string, state: JobView['state'], error: JobView['error'] = null) =>
    ({ id, kind: 'clone', state, error }) as JobView;
  const jobs: Jobs = new Map([
    ['j-done', clone('j-done', 'completed')],
    ['j-bad', clone('j-bad', 'failed', { code: 'VC_ERR_UNSUPPORTED_AUDIO', message: 'no speech' })],
    ['j-off', clone('j-off', 'cancelled')],
    ['j-run', clone('j-run', 'active')],
  ]);
  const shown = voicesAsJobsStand(
    [
      voice('done', 'j-done'),
      voice('bad', 'j-bad'),
      voice('off', 'j-off'),
      voice('run', 'j-run'),
      voice('unknown', 'j-elsewhere'),
      voice('kept', 'j-bad', 'ready'),
    ],
    jobs,
  );
  assert.deepEqual(
    shown.map((v) => [v.id, v.state, v.error?.message ?? null]),
    [
      ['done', 'ready', null],
      ['bad', 'failed', 'no speech'],
      ['off', 'failed', null],
      ['run', 'pending', null],
      ['unknown', 'pending', null],
      ['kept', 'ready', null],
    ],
  );
});

test('a 503 with Retry-After is waited out a bounded number of times; nothing else is retried', () => {
  assert.equal(unavailableWaitMs(503, '5', 1), 5000);
  assert.equal(unavailableWaitMs(503, '0', 1), 0);
  assert.equal(unavailableWaitMs(503, '3600', 1), 30_000, 'bounded to 30 s');
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(unavailableWaitMs(503, 'Thu, 01 Jan 2026 00:00:07 GMT', 1, now), 7000);
  assert.equal(unavailableWaitMs(503, 'Wed, 31 Dec 2025 23:00:00 GMT', 1, now), 0, 'a past date: at once');
  assert.equal(unavailableWaitMs(503, '5', UNAVAILABLE_RETRIES), 5000);
  assert.equal(unavailableWaitMs(503, '5', UNAVAILABLE_RETRIES + 1), undefined, 'retries used up');
  for (const header of [null, '', 'soon'])
    assert.equal(unavailableWaitMs(503, header, 1), undefined, `Retry-After ${header}`);
  for (const status of [429, 500, 502, 504, 409, 200])
    assert.equal(unavailableWaitMs(status, '5', 1), undefined, `HTTP ${status}`);
});

test('presets are keyed by (model, id): the default model’s by id, another model’s by model/id', () => {
  assert.equal(presetKey({ id: 'preset-nora', model: 'default' }), 'preset-nora');
  assert.equal(presetKey({ id: 'preset-nora', model: 'copy2' }), 'copy2/preset-nora');
  assert.notEqual(presetKey({ id: 'preset-a', model: 'm1' }), presetKey({ id: 'preset-a', model: 'm2' }));
});
