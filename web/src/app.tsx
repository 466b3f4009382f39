import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ensureSession, errorText, fetchJob, getJson } from './api.js';
import { CloneForm } from './clone-form.js';
import { ConvertForm } from './convert-form.js';
import { JobCard } from './job-card.js';
import { applyMessage, FINAL, type Jobs, putJob, sortedJobs } from './lib/jobs.js';
import type { JobView, Preset, ServerMessage, Upload, Voice, Workspace } from './lib/types.js';
import { connectLive } from './live.js';

export interface Status {
  text: string;
  error: boolean;
}

/** The whole page: forms on top, the jobs below; state lives here, the rest renders it. */
export function App() {
  const [jobs, setJobs] = useState<Jobs>(new Map());
  const [voices, setVoices] = useState<Voice[]>([]);
  const [presets, setPresets] = useState<Preset[]>([]);
  const [workspace, setWorkspace] = useState<Workspace | undefined>();
  const [keptUpload, setKeptUpload] = useState<Upload | undefined>();
  const [fatal, setFatal] = useState<string | undefined>();
  const jobsRef = useRef(jobs);
  jobsRef.current = jobs;

  const put = useCallback((job: JobView) => setJobs((j) => putJob(j, job)), []);

  const loadVoices = useCallback(async () => {
    const body = await getJson<{ voices: Voice[]; presets: Preset[] }>('/api/voices');
    if (!body) return;
    setVoices(body.voices);
    setPresets(body.presets);
  }, []);

  const loadWorkspace = useCallback(async () => {
    const body = await getJson<Workspace>('/api/workspace');
    if (body) setWorkspace(body);
    return body;
  }, []);

  const onMessage = useCallback(
    (msg: ServerMessage) => {
      const { jobs: next, needsView } = applyMessage(jobsRef.current, msg);
      jobsRef.current = next;
      setJobs(next);
      // First sight of a job (another tab started it) or its signed result link: ask for the view.
      if (needsView) void fetchJob(needsView).then((job) => job && put(job));
    },
    [put],
  );

  useEffect(() => {
    ensureSession()
      .then(async () => {
        await loadVoices();
        const res = await api('/api/jobs');
        if (res.ok) {
          const body = (await res.json()) as { jobs: JobView[] };
          setJobs((j) => body.jobs.reduce(putJob, j));
        } else setFatal(await errorText(res, 'loading your jobs'));
        connectLive(onMessage);
        await loadWorkspace();
      })
      .catch((err: Error) => setFatal(err.message));
  }, [loadVoices, loadWorkspace, onMessage]);

  // A clone that has just finished makes its voice selectable (or shows it failed) in the menu.
  const cloneStates = useRef(new Map<string, string>());
  useEffect(() => {
    let changed = false;
    for (const job of jobs.values()) {
      if (job.kind !== 'clone') continue;
      const before = cloneStates.current.get(job.id);
      if (before && !FINAL.has(before) && FINAL.has(job.state)) changed = true;
      cloneStates.current.set(job.id, job.state);
    }
    if (changed) void loadVoices();
  }, [jobs, loadVoices]);

  const voiceNames = new Map(voices.map((v) => [v.id, v.name]));

  const convertAgain = async (job: JobView): Promise<string | undefined> => {
    const body = await getJson<{ upload: Upload }>(`/api/uploads/${encodeURIComponent(job.uploadId)}`);
    if (!body) return `${job.filename} is no longer in your workspace; upload it again.`;
    setKeptUpload(body.upload);
    document.querySelector('#convert')?.scrollIntoView({ block: 'start' });
    return undefined;
  };
  const [againMessage, setAgainMessage] = useState<Status | undefined>();

  return (
    <>
      <header>
        <h1>vcfarm</h1>
        <p>Upload a recording, convert it, listen.</p>
      </header>
      <main>
        {fatal && (
          <p class="error" role="alert">
            {fatal}
          </p>
        )}
        <ConvertForm
          jobs={jobs}
          voices={voices}
          presets={presets}
          workspace={workspace}
          loadWorkspace={loadWorkspace}
          keptUpload={keptUpload}
          setKeptUpload={setKeptUpload}
          put={put}
          notice={againMessage}
        />
        <CloneForm
          jobs={jobs}
          workspace={workspace}
          loadWorkspace={loadWorkspace}
          loadVoices={loadVoices}
          put={put}
        />
        <section id="jobs-section">
          <h2>Your jobs</h2>
          <ul id="jobs" aria-live="polite">
            {sortedJobs(jobs).map((job) => (
              <JobCard
                key={job.id}
                job={job}
                voiceName={job.voiceId ? voiceNames.get(job.voiceId) : undefined}
                put={put}
                onAgain={async () => {
                  const problem = await convertAgain(job);
                  setAgainMessage(
                    problem
                      ? { text: problem, error: true }
                      : {
                          text: `${job.filename} is selected again: pick the settings and convert.`,
                          error: false,
                        },
                  );
                }}
              />
            ))}
          </ul>
        </section>
      </main>
    </>
  );
}
