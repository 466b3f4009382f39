import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  ensureSession,
  errorText,
  fetchJob,
  getJson,
  type KeyNeeded,
  KeyNeededError,
  onKeyNeeded,
  onSessionReplaced,
} from './api.js';
import { CloneForm } from './clone-form.js';
import { ConvertForm } from './convert-form.js';
import { ErrorLine } from './error-line.js';
import type { FormProps } from './form-props.js';
import { JobCard } from './job-card.js';
import { KeyForm } from './key-form.js';
import { formatBytes, placeText } from './lib/format.js';
import { applyMessage, FINAL, type Jobs, putJob, sortedJobs, voicesAsJobsStand } from './lib/jobs.js';
import {
  DEFAULT_MODEL,
  type JobView,
  type Preset,
  presetKey,
  type QueuePlace,
  type ServerMessage,
  type Upload,
  type Voice,
  type Workspace,
} from './lib/types.js';
import { connectLive } from './live.js';
import { NewVersion } from './new-version.js';
import { UploadList } from './upload-list.js';
import { VoiceLibrary } from './voice-library.js';

const PAGE = 20;
/** The `state` query of each filter (GET /api/jobs filters on the server, so older pages hold only those). */
const FILTER_STATES: Record<string, string> = { unfinished: 'queued,active' };
const FILTERS: [string, string][] = [
  ['', 'All jobs'],
  ['unfinished', 'Queued or running'],
  ['completed', 'Completed'],
  ['failed', 'Failed'],
  ['cancelled', 'Cancelled'],
];

export interface Status {
  text: string;
  error: boolean;
}

/** The whole page: forms on top, the jobs below; state lives here, the rest renders it. */
export function App() {
  const [jobs, setJobs] = useState<Jobs>(new Map());
  const [voices, setVoices] = useState<Voice[]>([]);
  const voicesRef = useRef(voices);
  voicesRef.current = voices;
  const [presets, setPresets] = useState<Preset[]>([]);
  const [workspace, setWorkspace] = useState<Workspace | undefined>();
  const [keptUpload, setKeptUpload] = useState<Upload | undefined>();
  /** Places of the queued jobs, as the WebSocket last sent them. */
  const [places, setPlaces] = useState<Map<string, QueuePlace>>(new Map());
  const [fatal, setFatal] = useState<string | undefined>();
  /** Set while the page can act for no one until an API key is entered (key-form.tsx). */
  const [keyNeeded, setKeyNeeded] = useState<KeyNeeded | undefined>();
  const [sessionReplaced, setSessionReplaced] = useState(false);
  const [older, setOlder] = useState<string | null>(null);
  /** The first page of jobs has been read: before, an empty list means only "not read yet". */
  const [jobsRead, setJobsRead] = useState(false);
  const [filter, setFilter] = useState('');
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);
  /**
   * The jobs as of the last change: every change goes through `update`, so answers and events
   * that race build on each other.
   */
  const jobsRef = useRef(jobs);
  /** createdAt of the oldest job loaded while older pages remain; undefined once all are loaded. */
  const pagedSince = useRef<number | undefined>(undefined);
  const update = useCallback((change: (j: Jobs) => Jobs) => {
    jobsRef.current = change(jobsRef.current);
    setJobs(jobsRef.current);
  }, []);

  /** Events of jobs the page does not know yet, held by job until the job's view arrives. */
  const held = useRef(new Map<string, ServerMessage[]>());
  const fetching = useRef(new Set<string>());
  /** This page's requests that make a job (POST /api/jobs, /api/voices), in flight. */
  const creating = useRef(0);

  /** A job's view, then the events held for it (a finished job stays finished). */
  const put = useCallback(
    (job: JobView) => {
      const waiting = held.current.get(job.id) ?? [];
      held.current.delete(job.id);
      update((j) =>
        waiting.reduce((acc, m) => applyMessage(acc, m, pagedSince.current).jobs, putJob(j, job)),
      );
    },
    [update],
  );
  const drop = useCallback(
    (id: string) =>
      update((j) => {
        const next = new Map(j);
        next.delete(id);
        return next;
      }),
    [update],
  );

  /** Asks once for the view of a job first seen in an event (another tab or client made it). */
  const learn = useCallback(
    (id: string) => {
      if (fetching.current.has(id)) return;
      fetching.current.add(id);
      void fetchJob(id).then((job) => {
        fetching.current.delete(id);
        if (job) put(job);
        else held.current.delete(id);
      });
    },
    [put],
  );

  /**
   * Runs `work`, which makes a job and puts the answer's view: meanwhile the events of jobs not
   * known yet wait (the answer names this page's own job: no request for it); then the jobs
   * still unknown (another tab's) are asked for.
   */
  const whileCreating = useCallback(
    async <T,>(work: () => Promise<T>): Promise<T> => {
      creating.current++;
      try {
        return await work();
      } finally {
        if (--creating.current === 0) for (const id of held.current.keys()) learn(id);
      }
    },
    [learn],
  );

  const loadVoices = useCallback(async () => {
    const body = await getJson<{ voices: Voice[]; presets: Preset[] }>('/api/voices');
    if (!body) return;
    setVoices(body.voices);
    setPresets(body.presets);
  }, []);

  /** A voice as the API answered a change to it (its new name), or gone once its deletion answered. */
  const putVoice = useCallback((voice: Voice) => {
    setVoices((vs) =>
      vs.some((v) => v.id === voice.id) ? vs.map((v) => (v.id === voice.id ? voice : v)) : [voice, ...vs],
    );
  }, []);
  const dropVoice = useCallback((id: string) => {
    setVoices((vs) => vs.filter((v) => v.id !== id));
  }, []);

  const loadWorkspace = useCallback(async () => {
    const body = await getJson<Workspace>('/api/workspace');
    if (body) setWorkspace(body);
    return body;
  }, []);

  const onMessage = useCallback(
    (msg: ServerMessage) => {
      if (msg.type === 'queue') {
        setPlaces(new Map(msg.jobs.map((p) => [p.jobId, p])));
        return;
      }
      const { jobs: next, needsView } = applyMessage(jobsRef.current, msg, pagedSince.current);
      if (!needsView) {
        update(() => next);
        // The event says a job was cancelled, not by whom: its view (the error) says, for its card.
        if (msg.type === 'cancelled' && !next.get(msg.jobId)?.error) learn(msg.jobId);
        return;
      }
      // First sight of a job: held until its view comes, from this page's own answer or asked for once.
      const waiting = held.current.get(needsView);
      if (waiting) waiting.push(msg);
      else held.current.set(needsView, [msg]);
      if (creating.current === 0) learn(needsView);
    },
    [update, learn],
  );

  useEffect(() => {
    onKeyNeeded(setKeyNeeded);
    onSessionReplaced(() => setSessionReplaced(true));
    ensureSession()
      .then(async () => {
        await loadVoices();
        const res = await api(`/api/jobs?limit=${PAGE}`);
        if (res.ok) {
          const body = (await res.json()) as { jobs: JobView[]; nextCursor: string | null };
          update((j) => body.jobs.reduce(putJob, j));
          setOlder(body.nextCursor);
          setJobsRead(true);
          pagedSince.current = body.nextCursor ? body.jobs.at(-1)?.createdAt : undefined;
        } else setFatal(await errorText(res, 'loading your jobs'));
        connectLive(onMessage);
        await loadWorkspace();
      })
      .catch((err: Error) => {
        // The key form says why; nothing else is shown (no forms that could only be refused).
        if (!(err instanceof KeyNeededError)) setFatal(err.message);
      });
  }, [loadVoices, loadWorkspace, onMessage, update]);

  // A clone that has just finished makes its voice selectable (or shows it failed): the page's own
  // voices follow their clone jobs (voicesAsJobsStand); one cloned elsewhere is read with the list.
  // A job made since the page opened (its upload, the queue) or just ended (its output) changes
  // the workspace's usage, and so does one removed (its result went with it), here or in another tab.
  const jobStates = useRef(new Map<string, string>());
  const openedAt = useRef(Date.now());
  useEffect(() => {
    let cloneEnded = false;
    let usageChanged = false;
    for (const id of jobStates.current.keys())
      if (!jobs.has(id)) {
        jobStates.current.delete(id);
        usageChanged = true;
      }
    for (const job of jobs.values()) {
      const before = jobStates.current.get(job.id);
      const ended = !FINAL.has(before ?? 'queued') && FINAL.has(job.state);
      if ((before && ended) || (!before && job.createdAt >= openedAt.current)) usageChanged = true;
      if (before && ended && job.kind === 'clone' && !voicesRef.current.some((v) => v.jobId === job.id))
        cloneEnded = true;
      jobStates.current.set(job.id, job.state);
    }
    if (cloneEnded) void loadVoices();
    if (usageChanged) void loadWorkspace();
  }, [jobs, loadVoices, loadWorkspace]);

  const shownVoices = voicesAsJobsStand(voices, jobs);
  const voiceNames = new Map(shownVoices.map((v) => [v.id, v.name]));
  const targetNames = new Map([
    ...voiceNames,
    ...presets.map((p): [string, string] => [presetKey(p), p.displayName]),
  ]);

  /** One page of jobs in the filter's states (the first when no cursor), merged into those known. */
  const loadPage = async (cursor: string | null, shown: string) => {
    const states = shown === '' ? '' : `&state=${FILTER_STATES[shown] ?? shown}`;
    const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const res = await api(`/api/jobs?limit=${PAGE}${states}${after}`);
    if (!res.ok) return setFatal(await errorText(res, 'loading older jobs'));
    const body = (await res.json()) as { jobs: JobView[]; nextCursor: string | null };
    update((j) => body.jobs.reduce(putJob, j));
    setOlder(body.nextCursor);
    // Live snapshots fill in only what the unfiltered pages reach.
    if (shown === '' && (cursor || !pagedSince.current))
      pagedSince.current = body.nextCursor ? body.jobs.at(-1)?.createdAt : undefined;
  };
  const loadOlder = async () => {
    if (older) await loadPage(older, filter);
  };
  const changeFilter = (shown: string) => {
    setFilter(shown);
    void loadPage(null, shown);
  };
  const waiting = [...places.values()].sort((a, b) => a.position - b.position);
  const shownJobs = sortedJobs(jobs).filter((j) =>
    filter === '' ? true : filter === 'unfinished' ? !FINAL.has(j.state) : j.state === filter,
  );

  /** Makes a stored upload the next conversion's source; a problem in words when it is gone. */
  const selectUpload = async (uploadId: string, filename: string): Promise<string | undefined> => {
    const body = await getJson<{ upload: Upload }>(`/api/uploads/${encodeURIComponent(uploadId)}`);
    if (!body) {
      void loadWorkspace();
      return `${filename} is no longer in your workspace; upload it again.`;
    }
    setKeptUpload(body.upload);
    document.querySelector('#convert')?.scrollIntoView({ block: 'start' });
    return undefined;
  };
  const [againMessage, setAgainMessage] = useState<Status | undefined>();
  const selected = (filename: string, again: boolean): Status => ({
    text: `${filename} is selected${again ? ' again' : ''}: pick the settings and convert.`,
    error: false,
  });
  const forms: FormProps = { jobs, voices: shownVoices, workspace, loadWorkspace, put, whileCreating };

  return (
    <>
      <header>
        <h1>vcfarm</h1>
        <p>Upload a recording, convert it, listen.</p>
        <KeyForm needed={keyNeeded} />
      </header>
      {keyNeeded ? null : (
        <main>
          <NewVersion />
          {sessionReplaced && (
            <p id="session-replaced" class="notice" role="alert">
              Your anonymous session had expired, so a new one was started: the files, jobs and voices of the
              old one are no longer reachable from this browser.
            </p>
          )}
          <ErrorLine text={fatal} />
          <ConvertForm
            {...forms}
            presets={presets}
            keptUpload={keptUpload}
            setKeptUpload={setKeptUpload}
            notice={againMessage}
          />
          <CloneForm {...forms} putVoice={putVoice} loadVoices={loadVoices} />
          <VoiceLibrary
            voices={shownVoices}
            presets={presets}
            loadVoices={loadVoices}
            putVoice={putVoice}
            dropVoice={dropVoice}
          />
          <UploadList
            workspace={workspace}
            loadWorkspace={loadWorkspace}
            select={async (id) => {
              const filename = workspace?.files.find((f) => f.name === id)?.filename ?? 'The upload';
              const problem = await selectUpload(id, filename);
              if (!problem) setAgainMessage(selected(filename, false));
              return problem;
            }}
            removed={(id) => setKeptUpload((kept) => (kept?.id === id ? undefined : kept))}
          />
          {workspace && (
            <p id="usage" class="hint">
              Workspace: {formatBytes(workspace.usage.bytes)} of {formatBytes(workspace.quota.maxBytes)},{' '}
              {workspace.usage.files} of {workspace.quota.maxFiles} files, {workspace.usage.queuedJobs} of{' '}
              {workspace.quota.maxQueuedJobs} jobs waiting.
            </p>
          )}
          <section id="jobs-section">
            <h2>Your jobs</h2>
            <label class="inline">
              Show{' '}
              <select id="job-filter" value={filter} onChange={(e) => changeFilter(e.currentTarget.value)}>
                {FILTERS.map(([value, text]) => (
                  <option key={value} value={value}>
                    {text}
                  </option>
                ))}
              </select>
            </label>
            {waiting.length > 1 && (
              <p id="queue-summary" class="hint">
                {waiting.length} of your jobs wait in the queue:{' '}
                {placeText(waiting[0].position, waiting[0].etaSec)} for the first,{' '}
                {placeText(waiting[waiting.length - 1].position, waiting[waiting.length - 1].etaSec)} for the
                last.
              </p>
            )}
            {jobsRead && jobs.size === 0 && (
              <p id="no-jobs" class="hint">
                No jobs yet: choose an audio file above and press Upload and convert.
              </p>
            )}
            <ul id="jobs" aria-live="polite">
              {shownJobs.map((job) => (
                <JobCard
                  key={job.id}
                  job={job}
                  now={now}
                  place={job.state === 'queued' ? places.get(job.id) : undefined}
                  targetName={
                    job.voiceId
                      ? (voiceNames.get(job.voiceId) ??
                        targetNames.get(presetKey({ id: job.voiceId, model: job.model ?? DEFAULT_MODEL })))
                      : undefined
                  }
                  voiceName={job.voiceId ? voiceNames.get(job.voiceId) : undefined}
                  put={put}
                  drop={drop}
                  onAgain={async () => {
                    const problem = await selectUpload(job.uploadId, job.filename);
                    setAgainMessage(problem ? { text: problem, error: true } : selected(job.filename, true));
                  }}
                />
              ))}
            </ul>
            {older && (
              <button type="button" id="older-jobs" onClick={loadOlder}>
                Show older jobs
              </button>
            )}
          </section>
        </main>
      )}
    </>
  );
}
