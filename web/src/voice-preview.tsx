/** A voice's preview player (a preset's sample, or one's own voice's reference recording). */
export function PreviewPlayer({ name, url, own }: { name: string; url: string; own?: boolean }) {
  return (
    <audio
      class="voice-preview"
      controls
      preload="metadata"
      src={url}
      aria-label={own ? `Reference recording of voice ${name}` : `Preview of voice ${name}`}
    >
      <track kind="captions" label="none available" />
    </audio>
  );
}

/** A voice as the picker's preview shows it. */
export interface PreviewedVoice {
  name: string;
  previewUrl: string | null;
  /** A preset's one line on how it sounds. */
  description: string | null;
}

/** Beside the voice picker: the chosen voice's preview, so it can be heard before converting. */
export function VoicePreview({ voice }: { voice: PreviewedVoice | undefined }) {
  if (!voice) return null;
  return (
    <p id="voice-preview" class="hint">
      {voice.description && <span class="voice-description">{voice.description}. </span>}
      {voice.previewUrl ? (
        <>
          Hear {voice.name}: <PreviewPlayer name={voice.name} url={voice.previewUrl} />
        </>
      ) : (
        `${voice.name} has no preview yet.`
      )}
    </p>
  );
}
