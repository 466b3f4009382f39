import { useRef, useState } from 'preact/hooks';
import { api, errorText, fetchJob } from './api.js';
import { JobDetail } from './job-detail.js';
import {
  curlLine,
  placeText,
  relativeTime,
  resultGoneText,
  resultName,
  settingsText,
  speedText,
} from './lib/format.js';
import { FINAL, stateText } from './lib/jobs.js';
import type { JobView, QueuePlace } from './lib/types.js';

interface Props {
  job: JobView;
  /** The target voice's name, for a conversion with one. */
  targetName: string | undefined;
  now: number;
  /** A queued job's place in the queue, live. */
  place: QueuePlace | undefined;
  /** For a clone: the voice it makes. */
  voiceName: string | undefined;
  put: (job: JobView) => void;
  /** Takes the card away once the job's record is removed on the server. */
  drop: (id: string) => void;
  onAgain: () => void;
}

/** One job: a voice being analysed, or a conversion with its player and download. */
export function JobCard({ job, voiceName, targetName, now, place, put, drop, onAgain }: Props) {
  const [resultError, setResultError] = useState<string | undefined>();
  const [actionError, setActionError] = useState<string | undefined>();
  const isClone = job.kind === 'clone';
  const name = isClone
    ? `Voice "${voiceName || job.filename}"`
    : `${job.filename || 'audio'} → ${job.outputFormat.toUpperCase()}`;
  const label = isClone ? name : job.filename;
  const showResult = !isClone && job.state === 'completed' && job.resultUrl;
  // While it converts, the player plays the part converted so far; the same element then takes the final file.
  // Set when this card asks for a cancel: the partial stream stops at once, so the player never asks
  // for more of a job that is being cancelled (that request would answer 404).
  const [stopping, setStopping] = useState(false);
  const livePartial =
    !isClone && !stopping && job.state === 'active' && job.partialAvailable && job.partialUrl;
  const playerSrc = showResult ? job.resultUrl : livePartial ? job.partialUrl : undefined;
  // Read during render, before the new src reaches the element: where the partial stream was.
  const audioRef = useRef<HTMLAudioElement>(null);
  const shownSrc = useRef<string | undefined>(undefined);
  const carry = useRef<{ at: number; playing: boolean } | undefined>(undefined);
  if (shownSrc.current !== playerSrc) {
    const a = audioRef.current;
    if (shownSrc.current && a && a.currentTime > 0) carry.current = { at: a.currentTime, playing: !a.paused };
    shownSrc.current = playerSrc ?? undefined;
  }

  const cancel = async () => {
    const a = audioRef.current;
    if (livePartial && a) {
      a.pause();
      a.removeAttribute('src');
      a.load(); // aborts the partial stream's request now, not after the next render
    }
    setStopping(true);
    const res = await api(`/api/jobs/${encodeURIComponent(job.id)}`, { method: 'DELETE' });
    if (res.ok) put(((await res.json()) as { job: JobView }).job);
    else if (res.status === 409) {
      // It ended (completed or failed) before the cancel reached it: the card shows how, no error.
      setStopping(false);
      const ended = await fetchJob(job.id);
      if (ended) put(ended);
    } else {
      setStopping(false);
      setActionError(await errorText(res, 'cancelling'));
    }
  };

  const [open, setOpen] = useState(false);
  // The other tabs learn of it from the `resultGone` event; this one need not wait for it.
  const deleteResult = async () => {
    const res = await api(`/api/jobs/${encodeURIComponent(job.id)}/result`, { method: 'DELETE' });
    if (res.ok) put({ ...job, resultUrl: null, resultGone: 'deleted' });
    else setActionError(await errorText(res, 'deleting the result'));
  };
  /** The job and its result, gone from the workspace (DELETE …/record takes finished jobs only). */
  const removeJob = async () => {
    const res = await api(`/api/jobs/${encodeURIComponent(job.id)}/record`, { method: 'DELETE' });
    if (res.ok) drop(job.id);
    else setActionError(await errorText(res, 'removing the job'));
  };
  // Deleted (from this card or another tab) or expired, before the page loaded or since.
  const gone = job.state === 'completed' ? job.resultGone : undefined;
  const speed = speedText(job.startedAt, job.finishedAt, job.durationSec, job.state);
  const curl = job.resultUrl
    ? curlLine(`${location.origin}${job.resultUrl}`, job.filename, job.outputFormat)
    : undefined;

  /** A fresh signed link for the result, then the player tries again. */
  const retry = async () => {
    const fresh = await fetchJob(job.id);
    if (!fresh?.resultUrl) {
      setResultError('The result is no longer available.');
      return;
    }
    setResultError(undefined);
    put(fresh);
    // A link still well within its life is kept (steadyLink): the player asks for it again.
    audioRef.current?.load();
  };

  return (
    <li class="job" data-job-id={job.id} data-state={job.state} data-kind={job.kind}>
      <div class="job-head">
        <span class="job-name">{name}</span> <span class="job-state">{stateText(job)}</span>
        {place && <span class="job-queue"> · {placeText(place.position, place.etaSec)}</span>}
      </div>
      <progress class="job-progress" max={1} value={job.progress || 0} aria-label={`${label} progress`} />
      <p class="job-meta hint">
        {!isClone && <span class="job-settings">{settingsText(job, targetName)}</span>}
        {!isClone && ' · '}
        <time dateTime={new Date(job.createdAt).toISOString()}>{relativeTime(job.createdAt, now)}</time>
        {speed && (
          <span class="job-speed">{` · ${job.state === 'completed' ? 'took' : 'stopped after'} ${speed}`}</span>
        )}
      </p>
      {gone && <p class="hint job-result-gone">{resultGoneText(gone)}</p>}
      {playerSrc && (
        <div class="job-result" data-partial={livePartial ? 'true' : undefined}>
          <audio
            controls
            preload={livePartial ? 'auto' : 'metadata'}
            class="job-audio"
            src={playerSrc}
            aria-label={`${job.filename} result${livePartial ? ' so far' : ''}`}
            ref={audioRef}
            onLoadedMetadata={(e) => {
              // From the partial stream to the final file: carry on where the listener was.
              const a = e.currentTarget;
              const was = carry.current;
              carry.current = undefined;
              if (!was) return;
              a.currentTime = was.at;
              if (was.playing) void a.play().catch(() => {});
            }}
            onError={() =>
              livePartial
                ? undefined
                : setResultError(
                    'The result could not be loaded (its link may have expired, or the network failed).',
                  )
            }
          >
            <track kind="captions" label="none available" />
          </audio>
          {livePartial && <span class="hint job-partial-note">playing what is converted so far</span>}
          {showResult && (
            <>
              <a
                class="job-download"
                href={job.resultUrl ?? undefined}
                download={resultName(job.filename, job.outputFormat)}
                aria-label={`Download ${job.filename} result`}
              >
                Download
              </a>
              {curl && (
                <details class="job-curl">
                  <summary>curl</summary>
                  <code>{curl}</code>
                </details>
              )}
              {resultError && (
                <p class="job-result-error">
                  <span class="job-result-reason">{resultError}</span>{' '}
                  <button type="button" class="job-result-retry" onClick={retry}>
                    Retry
                  </button>
                </p>
              )}
            </>
          )}
        </div>
      )}
      {actionError && <p class="job-result-error">{actionError}</p>}
      <div class="job-actions">
        {!FINAL.has(job.state) && (
          <button type="button" class="job-cancel" aria-label={`Cancel ${label}`} onClick={cancel}>
            Cancel
          </button>
        )}
        {showResult && (
          <button
            type="button"
            class="job-delete-result"
            aria-label={`Delete result of ${job.filename}`}
            onClick={deleteResult}
          >
            Delete result
          </button>
        )}
        {!isClone && (
          <button
            type="button"
            class="job-details"
            aria-expanded={open}
            aria-controls={`detail-${job.id}`}
            aria-label={`Details of ${job.filename}`}
            onClick={() => setOpen(!open)}
          >
            Details
          </button>
        )}
        {!isClone && FINAL.has(job.state) && (
          <button
            type="button"
            class="job-remove"
            aria-label={`Remove job ${job.filename}${showResult ? ' and its result' : ''}`}
            onClick={removeJob}
          >
            Remove
          </button>
        )}
        {!isClone && FINAL.has(job.state) && (
          <button
            type="button"
            class="job-again"
            aria-label={`Convert again: ${job.filename}`}
            onClick={onAgain}
          >
            Convert again
          </button>
        )}
      </div>
      {open && !isClone && <JobDetail job={job} targetName={targetName} put={put} />}
    </li>
  );
}
