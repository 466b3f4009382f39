import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, uploadFile } from './api.js';
import type { Status } from './app.js';
import type { FormProps } from './form-props.js';
import { formatBytes, voiceDescription } from './lib/format.js';
import { conversionStatus } from './lib/jobs.js';
import { limitsText, rateRefusal, refusalBeforeUpload } from './lib/limits.js';
import { type JobView, type Preset, presetKey, type Upload } from './lib/types.js';
import { type PreviewedVoice, VoicePreview } from './voice-preview.js';

interface Props extends FormProps {
  presets: Preset[];
  /** An upload kept for the next conversion (refused before, or chosen again from a job). */
  keptUpload: Upload | undefined;
  setKeptUpload: (u: Upload | undefined) => void;
  notice: Status | undefined;
}

/** Either a message, or the job whose state the status line follows. */
type Line = Status | { follow: string };

export function ConvertForm(props: Props) {
  const { jobs, workspace, keptUpload, setKeptUpload } = props;
  const fileRef = useRef<HTMLInputElement>(null);
  const [voiceId, setVoiceId] = useState('');
  const [strength, setStrength] = useState(1);
  const [pitch, setPitch] = useState(0);
  const [format, setFormat] = useState('mp3');
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<number | undefined>();
  const [line, setLine] = useState<Line | undefined>();

  useEffect(() => {
    if (props.notice) setLine(props.notice);
  }, [props.notice]);

  const followed = line && 'follow' in line ? jobs.get(line.follow) : undefined;
  const shown: Status | undefined = line && 'follow' in line ? followed && conversionStatus(followed) : line;

  const forgetFile = () => {
    if (fileRef.current) fileRef.current.value = '';
  };

  const createJob = (upload: Upload) => props.whileCreating(() => requestJob(upload));
  const requestJob = async (upload: Upload) => {
    const chosen = voiceChoices(props).get(voiceId);
    const res = await api('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        uploadId: upload.id,
        pitchSemitones: pitch,
        outputFormat: format,
        ...(chosen ? { voiceId: chosen.id, model: chosen.model, strength } : {}),
      }),
    });
    if (!res.ok) {
      // The upload stays (and is shown) so the next press converts it without uploading it again.
      setKeptUpload(upload);
      forgetFile();
      throw new Error(`Conversion refused: ${await errorText(res, 'the conversion request')}`);
    }
    const { job } = (await res.json()) as { job: JobView };
    setKeptUpload(undefined);
    // The file is converted: pressing the button again must not upload it a second time (each
    // press did, each copy counting against the quota). Its card's *Convert again* reuses the upload.
    forgetFile();
    props.put(job);
    setLine({ follow: job.id });
    // On a phone the list is below the fold: bring the new job into view once it is drawn.
    requestAnimationFrame(() =>
      document.querySelector(`[data-job-id="${CSS.escape(job.id)}"]`)?.scrollIntoView({ block: 'nearest' }),
    );
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const file = fileRef.current?.files?.[0];
    if (!file && !keptUpload) {
      setLine({ text: 'Choose an audio file first.', error: true });
      return;
    }
    setBusy(true);
    try {
      // Fresh limits and usage (read without being counted), so a refusal comes before the upload.
      const ws = (await props.loadWorkspace()) ?? workspace;
      let upload = keptUpload;
      if (upload) {
        const refusal = rateRefusal(ws, 'conversions', 'conversions');
        if (refusal) throw new Error(refusal);
      } else if (file) {
        const refusal = refusalBeforeUpload(ws, file, 'conversion');
        if (refusal) throw new Error(refusal);
        setLine({ text: `Uploading ${file.name} (${formatBytes(file.size)})…`, error: false });
        setProgress(0);
        const up = await uploadFile(file, (f) => {
          setProgress(f);
          setLine({ text: `Uploading ${file.name}: ${Math.round(f * 100)}%`, error: false });
        });
        if (!up.ok || !up.body?.upload) {
          // The answer may be lost (the connection dropped, a proxy gave up) while the file arrived
          // all the same: the workspace's list, read again, shows it under *Your uploads* if so.
          void props.loadWorkspace();
          throw new Error(
            up.status === 0
              ? `The upload of ${file.name} got no answer (network error). If the file arrived, it is listed under Your uploads.`
              : up.body?.message || `The upload failed (HTTP ${up.status}).`,
          );
        }
        upload = up.body.upload;
      }
      if (upload) await createJob(upload);
    } catch (err) {
      setLine({ text: (err as Error).message, error: true });
    } finally {
      setProgress(undefined);
      setBusy(false);
    }
  };

  const removeKept = async () => {
    if (!keptUpload) return;
    const res = await api(`/api/uploads/${encodeURIComponent(keptUpload.id)}`, { method: 'DELETE' });
    if (res.ok || res.status === 404) {
      setLine({ text: `${keptUpload.filename} was removed from your workspace.`, error: false });
      setKeptUpload(undefined);
      void props.loadWorkspace();
    } else setLine({ text: await errorText(res, 'removing the upload'), error: true });
  };

  const pitchOnly = voiceId === '';
  return (
    <section id="convert">
      <h2>New conversion</h2>
      <form id="convert-form" onSubmit={submit}>
        <label>
          Audio file{' '}
          <input
            type="file"
            id="file"
            name="file"
            accept="audio/*"
            ref={fileRef}
            onChange={() => {
              // A newly chosen file replaces the kept upload as the source (that one stays stored).
              if (fileRef.current?.files?.[0]) setKeptUpload(undefined);
            }}
          />
        </label>
        <p id="limits" class="hint">
          {workspace ? limitsText(workspace) : ''}
        </p>
        <p id="kept-upload" hidden={!keptUpload}>
          <span id="kept-upload-name">
            {keptUpload &&
              `${keptUpload.filename} (${formatBytes(keptUpload.bytes)}) is uploaded: converting again uses it, no new upload.`}
          </span>{' '}
          <button type="button" id="kept-upload-remove" onClick={removeKept}>
            Remove this upload
          </button>
        </p>
        <label>
          Target voice
          <select id="voice" value={voiceId} onChange={(e) => setVoiceId(e.currentTarget.value)}>
            <option value="">None: pitch shift only</option>
            {props.voices.map((v) => (
              <option key={v.id} value={v.id} disabled={v.state !== 'ready'}>
                {v.state === 'ready' ? v.name : `${v.name} (${v.state})`}
              </option>
            ))}
            {props.presets.map((p) => (
              <option key={presetKey(p)} value={presetKey(p)}>
                Preset: {p.displayName} — {p.description ?? voiceDescription(p.f0Median)}
              </option>
            ))}
          </select>
        </label>
        <VoicePreview voice={chosenVoice(props, voiceId)} />
        <label>
          Strength: {Math.round(strength * 100)}%{' '}
          <input
            type="range"
            id="strength"
            min="0"
            max="1"
            step="0.05"
            value={strength}
            disabled={pitchOnly}
            aria-describedby="strength-hint"
            onInput={(e) => setStrength(Number(e.currentTarget.value))}
          />
        </label>
        <p id="strength-hint" class="hint">
          {pitchOnly
            ? 'Strength applies to a target voice; a pitch-only job has none.'
            : 'How far the timbre moves toward the target voice: 0% keeps yours, 100% reaches it.'}
        </p>
        <label>
          Extra pitch shift (semitones){' '}
          <input
            type="number"
            id="pitch"
            min="-24"
            max="24"
            step="1"
            value={pitch}
            onInput={(e) => setPitch(Number(e.currentTarget.value) || 0)}
          />
        </label>
        <label>
          Output format
          <select id="format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
            <option value="mp3">MP3</option>
            <option value="wav">WAV</option>
            <option value="ogg">Ogg Vorbis</option>
            <option value="flac">FLAC</option>
          </select>
        </label>
        <button type="submit" id="submit" disabled={busy}>
          {keptUpload ? `Convert ${keptUpload.filename}` : 'Upload and convert'}
        </button>
        <progress
          id="upload-progress"
          max={1}
          value={progress ?? 0}
          aria-label="Upload progress"
          hidden={progress === undefined}
        />
      </form>
      <p id="status" role="status" aria-live="polite" class={shown?.error ? 'error' : ''}>
        {shown?.text ?? ''}
      </p>
    </section>
  );
}

/** Every option value of the voice picker, with the voice id and model a job names. */
function voiceChoices(props: Props): Map<string, { id: string; model: string }> {
  return new Map([
    ...props.voices.map((v) => [v.id, { id: v.id, model: v.model }] as const),
    ...props.presets.map((p) => [presetKey(p), { id: p.id, model: p.model }] as const),
  ]);
}

/** The picked voice as its preview shows it: one's own by name, a preset by its human name and description. */
function chosenVoice(props: Props, key: string): PreviewedVoice | undefined {
  const own = props.voices.find((v) => v.id === key);
  if (own) return { name: own.name, previewUrl: own.previewUrl, description: null };
  const preset = props.presets.find((p) => presetKey(p) === key);
  return (
    preset && { name: preset.displayName, previewUrl: preset.previewUrl, description: preset.description }
  );
}
