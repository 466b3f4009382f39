import { useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import type { Preset, Voice } from './lib/types.js';

interface Props {
  voices: Voice[];
  presets: Preset[];
  loadVoices: () => Promise<void>;
}

/** The user's voices (state, why one failed, delete) and the presets every user may pick. */
export function VoiceLibrary({ voices, presets, loadVoices }: Props) {
  const [problem, setProblem] = useState<string | undefined>();
  const remove = async (v: Voice) => {
    const res = await api(`/api/voices/${encodeURIComponent(v.id)}`, { method: 'DELETE' });
    if (!res.ok) setProblem(await errorText(res, 'deleting the voice'));
    else setProblem(undefined);
    await loadVoices();
  };
  return (
    <section id="voices-section">
      <h2>Voices</h2>
      {voices.length === 0 && <p class="hint">No voices of your own yet: clone one above.</p>}
      <ul id="voices">
        {voices.map((v) => (
          <li key={v.id} class="voice" data-state={v.state}>
            <span class="voice-name">{v.name}</span>{' '}
            <span class="voice-state">
              {v.state === 'failed' ? `failed: ${v.error?.message ?? 'analysis failed'}` : v.state}
            </span>{' '}
            <button type="button" aria-label={`Delete voice ${v.name}`} onClick={() => remove(v)}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      {problem && <p class="error">{problem}</p>}
      <p class="hint">Presets: {presets.map((p) => p.name).join(', ')}.</p>
    </section>
  );
}
