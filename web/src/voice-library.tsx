import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import { ErrorLine } from './error-line.js';
import { voiceDescription } from './lib/format.js';
import type { Preset, Voice } from './lib/types.js';
import { PreviewPlayer } from './voice-preview.js';

interface Props {
  voices: Voice[];
  presets: Preset[];
  loadVoices: () => Promise<void>;
  /** The list shows what the API answered at once: a reload of the list may fail (a rate limit) or come late. */
  putVoice: (voice: Voice) => void;
  dropVoice: (id: string) => void;
}

/** A voice's new name, typed where its name stood (focused when it opens). */
function RenameForm({
  voice,
  onSave,
  onKeep,
}: {
  voice: Voice;
  onSave: (name: string) => void;
  onKeep: () => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  // Focused as soon as it is in the document (an effect runs a frame later: a key pressed meanwhile went elsewhere).
  useLayoutEffect(() => input.current?.focus(), []);
  return (
    <form
      class="voice-rename inline"
      onSubmit={(e) => {
        e.preventDefault();
        onSave(input.current?.value ?? '');
      }}
    >
      <label>
        New name for {voice.name}{' '}
        <input ref={input} name="name" defaultValue={voice.name} maxLength={80} required />
      </label>
      <button type="submit">Save</button>
      <button type="button" onClick={onKeep}>
        Keep the name
      </button>
    </form>
  );
}

/** The user's voices (state, why one failed, delete) and the presets every user may pick. */
export function VoiceLibrary({ voices, presets, loadVoices, putVoice, dropVoice }: Props) {
  const [problem, setProblem] = useState<string | undefined>();
  /** The voice being renamed, if any. */
  const [renaming, setRenaming] = useState<string | undefined>();
  const rename = async (v: Voice, name: string) => {
    const res = await api(`/api/voices/${encodeURIComponent(v.id)}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (!res.ok) return setProblem(await errorText(res, 'renaming the voice'));
    putVoice(((await res.json()) as { voice: Voice }).voice);
    setProblem(undefined);
    setRenaming(undefined);
  };
  const remove = async (v: Voice) => {
    const res = await api(`/api/voices/${encodeURIComponent(v.id)}`, { method: 'DELETE' });
    if (!res.ok) {
      setProblem(await errorText(res, 'deleting the voice'));
      return loadVoices();
    }
    setProblem(undefined);
    dropVoice(v.id);
  };
  return (
    <section id="voices-section">
      <h2>Voices</h2>
      {voices.length === 0 && <p class="hint">No voices of your own yet: clone one above.</p>}
      <ul id="voices">
        {voices.map((v) => (
          <li key={v.id} class="voice" data-state={v.state}>
            {renaming === v.id ? (
              <RenameForm
                voice={v}
                onSave={(name) => void rename(v, name)}
                onKeep={() => setRenaming(undefined)}
              />
            ) : (
              <span class="voice-name">{v.name}</span>
            )}{' '}
            <PreviewPlayer name={v.name} url={v.previewUrl} own />{' '}
            <span class="voice-state">
              {v.state === 'failed' ? `failed: ${v.error?.message ?? 'analysis failed'}` : v.state}
            </span>{' '}
            {renaming !== v.id && (
              <button type="button" aria-label={`Rename voice ${v.name}`} onClick={() => setRenaming(v.id)}>
                Rename
              </button>
            )}{' '}
            <button type="button" aria-label={`Delete voice ${v.name}`} onClick={() => remove(v)}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      <ErrorLine text={problem} />
      <h3>Preset voices</h3>
      <ul id="presets">
        {presets.map((p) => (
          <li key={`${p.model}/${p.id}`} class="preset" data-preset={p.id}>
            <span class="voice-name">{p.displayName}</span>{' '}
            {p.description && <span class="voice-description">{p.description}</span>}{' '}
            <span class="hint">({voiceDescription(p.f0Median)})</span>{' '}
            {p.previewUrl ? (
              <PreviewPlayer name={p.displayName} url={p.previewUrl} />
            ) : (
              <span class="hint">no preview yet</span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
