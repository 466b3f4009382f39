import { useEffect, useState } from 'preact/hooks';
import { api, errorText, fetchJob } from './api.js';
import { resultGoneText, settingsText, speedText } from './lib/format.js';
import { FINAL } from './lib/jobs.js';
import type { JobView } from './lib/types.js';
import { Waveform } from './waveform.js';

interface Props {
  job: JobView;
  targetName: string | undefined;
  put: (job: JobView) => void;
}

const at = (ms: number | null) => (ms ? new Date(ms).toLocaleString() : '—');

/** A conversion in full: before/after players with their pictures, the settings, the timings. */
export function JobDetail({ job, targetName, put }: Props) {
  // Live events carry state, not timings: a job seen ending here is read once more for them.
  const stale = FINAL.has(job.state) && !job.finishedAt;
  useEffect(() => {
    if (stale) void fetchJob(job.id).then((fresh) => fresh && put(fresh));
  }, [stale, job.id, put]);
  // The original's link comes with the job view (sourceUrl); only a job known from events alone,
  // not yet read (neither from a list nor once more above), asks for its upload.
  const [fetchedSource, setSource] = useState<string | undefined>();
  const [sourceProblem, setSourceProblem] = useState<string | undefined>();
  const source = job.sourceUrl ?? fetchedSource;
  const askUpload = !job.sourceUrl && !stale;
  useEffect(() => {
    if (!askUpload) return;
    let live = true;
    void (async () => {
      const res = await api(`/api/uploads/${encodeURIComponent(job.uploadId)}`);
      if (!live) return;
      if (res.ok) setSource(((await res.json()) as { audioUrl: string }).audioUrl);
      else
        setSourceProblem(
          res.status === 404
            ? 'The original is no longer in your workspace.'
            : await errorText(res, 'loading the original'),
        );
    })();
    return () => {
      live = false;
    };
  }, [askUpload, job.uploadId]);
  const speed = speedText(job.startedAt, job.finishedAt, job.durationSec, job.state);
  const rows: [string, string][] = [
    ['Settings', settingsText(job, targetName)],
    ['Model', job.model ?? (job.voiceId ? 'default' : 'none (pitch shift only)')],
    ['Audio', `${job.durationSec.toFixed(1)} s`],
    ['Created', at(job.createdAt)],
    ['Started', at(job.startedAt)],
    ['Finished', at(job.finishedAt)],
  ];
  if (speed) rows.push(['Processing', speed]);
  return (
    <div class="job-detail" id={`detail-${job.id}`}>
      <div class="before-after">
        {source ? (
          <Waveform url={source} label="original" filename={job.filename} />
        ) : (
          <p class="hint">{sourceProblem ?? 'Loading the original…'}</p>
        )}
        {job.state === 'completed' && job.resultUrl ? (
          <Waveform url={job.resultUrl} label="result" filename={job.filename} />
        ) : (
          <p class="hint">
            {job.resultGone
              ? resultGoneText(job.resultGone)
              : 'The result appears here once the conversion has finished.'}
          </p>
        )}
      </div>
      <dl class="job-facts">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
        {job.error && (
          <div>
            <dt>Error</dt>
            <dd class="job-detail-error">{job.error.message}</dd>
          </div>
        )}
      </dl>
    </div>
  );
}
