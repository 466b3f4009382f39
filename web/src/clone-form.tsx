import { useRef, useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import type { Status } from './app.js';
import type { FormProps } from './form-props.js';
import { cloneStatus } from './lib/jobs.js';
import { refusalBeforeUpload } from './lib/limits.js';
import type { JobView, Voice } from './lib/types.js';

interface Props extends FormProps {
  /** Puts the voice the API answered into the list (no list reload: it follows its clone job from there). */
  putVoice: (voice: Voice) => void;
  /** Reads the voices again (after a request whose answer never came: its voice may exist). */
  loadVoices: () => Promise<void>;
}

/** Clone a voice from a reference recording; the status line follows the analysis to its end. */
export function CloneForm(props: Props) {
  const nameRef = useRef<HTMLInputElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  /** A message, or the clone job followed (with its voice's id and the name it was given). */
  const [line, setLine] = useState<Status | { follow: string; voiceId: string; name: string } | undefined>();

  const followed = line && 'follow' in line ? props.jobs.get(line.follow) : undefined;
  const currentName = (l: { voiceId: string; name: string }) =>
    props.voices.find((v) => v.id === l.voiceId)?.name ?? l.name;
  const shown: Status | undefined =
    line && 'follow' in line ? followed && cloneStatus(followed, currentName(line)) : line;

  const submit = async (e: Event) => {
    e.preventDefault();
    const formEl = e.currentTarget as HTMLFormElement;
    const file = fileRef.current?.files?.[0];
    if (!file) return;
    const ws = (await props.loadWorkspace()) ?? props.workspace;
    const refusal = refusalBeforeUpload(ws, file, 'clone');
    if (refusal) {
      setLine({ text: refusal, error: true });
      return;
    }
    const form = new FormData();
    form.append('name', nameRef.current?.value ?? '');
    form.append('file', file);
    setLine({ text: 'Uploading…', error: false });
    await props.whileCreating(async () => {
      const res = await api('/api/voices', { method: 'POST', body: form }).catch(() => undefined);
      if (!res) {
        // No answer (the connection dropped): the voice may have been made all the same, and the
        // lists read again show it (its reference among the workspace's files) if so.
        await Promise.all([props.loadVoices(), props.loadWorkspace()]);
        setLine({
          text: 'The clone request got no answer (network error). If the recording arrived, its voice is listed under Voices.',
          error: true,
        });
        return;
      }
      if (!res.ok) {
        setLine({ text: await errorText(res, 'cloning'), error: true });
        return;
      }
      const { voice, job } = (await res.json()) as { voice: Voice; job: JobView };
      props.putVoice(voice);
      props.put(job);
      // Accepted: empty name and file (as the upload form forgets its file), so a second click
      // cannot clone the same voice twice. A refusal keeps them to be corrected.
      formEl.reset();
      setLine({ follow: job.id, voiceId: voice.id, name: voice.name });
    });
  };

  return (
    <section id="clone">
      <h2>Clone a voice</h2>
      <form id="clone-form" onSubmit={submit}>
        <label>
          Name <input type="text" id="voice-name" maxLength={80} required ref={nameRef} />
        </label>
        <label>
          Reference recording (3-60 s of speech){' '}
          <input type="file" id="voice-file" accept="audio/*" required ref={fileRef} />
        </label>
        <button type="submit" id="clone-submit">
          Clone
        </button>
      </form>
      <p id="clone-status" role="status" aria-live="polite" class={shown?.error ? 'error' : ''}>
        {shown?.text ?? ''}
      </p>
    </section>
  );
}
