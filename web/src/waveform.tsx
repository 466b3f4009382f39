import { useEffect, useRef, useState } from 'preact/hooks';
import WaveSurfer from 'wavesurfer.js';
import Spectrogram from 'wavesurfer.js/dist/plugins/spectrogram.esm.js';

/** The page's CSP nonce (the server puts a fresh one in a meta tag); wavesurfer's style element carries it. */
function cspNonce(): string | undefined {
  return document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content || undefined;
}

interface Props {
  /** A signed same-origin link to the audio. */
  url: string;
  /** What it is, for the player's and the picture's names: "original", "result". */
  label: string;
  /** The file's name, for the names too. */
  filename: string;
}

/**
 * A player with its waveform and spectrogram (wavesurfer.js and its spectrogram plugin). The
 * `<audio>` is the page's own (keyboard and screen readers use its controls); wavesurfer draws
 * from it and seeks it when the picture is clicked.
 */
export function Waveform({ url, label, filename }: Props) {
  const picture = useRef<HTMLDivElement>(null);
  const audio = useRef<HTMLAudioElement>(null);
  const [problem, setProblem] = useState<string | undefined>();
  const [ready, setReady] = useState(false);
  useEffect(() => {
    if (!picture.current || !audio.current) return;
    setProblem(undefined);
    setReady(false);
    const ws = WaveSurfer.create({
      container: picture.current,
      media: audio.current,
      url,
      height: 64,
      normalize: true,
      // wavesurfer fetches the file to draw it; a type no player takes keeps the <audio> on the
      // signed link itself (streamed, seeking by Range) instead of on the fetched copy.
      blobMimeType: 'application/octet-stream',
      cspNonce: cspNonce(),
      waveColor: '#7a8fb0',
      progressColor: '#2b5aa8',
      plugins: [Spectrogram.create({ height: 96, labels: false, useWebWorker: false, scale: 'mel' })],
    });
    ws.on('ready', () => setReady(true));
    ws.on('error', () =>
      setProblem(`The ${label} could not be drawn (its link may have expired, or the file is gone).`),
    );
    return () => ws.destroy();
  }, [url, label]);
  return (
    <figure class={`wave wave-${label}`} data-ready={ready ? 'true' : 'false'}>
      <figcaption>{label === 'original' ? 'Before (original)' : 'After (result)'}</figcaption>
      <audio
        ref={audio}
        controls
        preload="metadata"
        class="wave-audio"
        aria-label={`${label === 'original' ? 'Original' : 'Converted'} ${filename}`}
      >
        <track kind="captions" label="none available" />
      </audio>
      <div
        ref={picture}
        class="wave-picture"
        role="img"
        aria-label={`Waveform and spectrogram of the ${label}`}
      />
      {problem && <p class="job-result-error">{problem}</p>}
    </figure>
  );
}
