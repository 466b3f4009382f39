/**
 * Demuxers vcfarm lets ffmpeg open. Anything else (hls, concat, subfile, tracker formats, image
 * sequences, ...) is refused before a byte is interpreted, because those are the demuxers that
 * can make ffmpeg read other files or fetch URLs.
 */
export const ALLOWED_DEMUXERS = [
  'wav',
  'w64',
  'flac',
  'mp3',
  'ogg',
  'matroska',
  'webm',
  'mov',
  'aac',
  'aiff',
];

/** ffprobe reports some demuxers by their long family name; map them to the name `-f` takes. */
export const DEMUXER_FOR_FORMAT_NAME: Record<string, string> = {
  wav: 'wav',
  w64: 'w64',
  flac: 'flac',
  mp3: 'mp3',
  ogg: 'ogg',
  'matroska,webm': 'matroska',
  'mov,mp4,m4a,3gp,3g2,mj2': 'mov',
  aac: 'aac',
  aiff: 'aiff',
};

/** Options that every ffmpeg/ffprobe invocation on user input carries. */
export function inputGuardArgs(): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', ALLOWED_DEMUXERS.join(',')];
}

export type OutputFormat = 'wav' | 'mp3' | 'ogg' | 'flac';

/**
 * Sample rate of a plain (pitch-only) conversion's output; a voice conversion writes at its
 * model's rate. Every output is mono, whatever the input's channels and rate.
 */
export const PLAIN_OUTPUT_RATE = 44_100;

/**
 * Most bytes per second of mono output at `rate`, per format: 16-bit PCM for WAV; FLAC never
 * more than PCM plus its frame headers (verbatim frames); MP3 at most LAME's 320 kbit/s; Vorbis
 * q5 has no hard ceiling, so 512 kbit/s, several times what it writes for mono.
 */
const BYTES_PER_SEC: Record<OutputFormat, (rate: number) => number> = {
  wav: (rate) => rate * 2,
  flac: (rate) => rate * 2 * 1.02,
  mp3: () => 320_000 / 8,
  ogg: () => 512_000 / 8,
};

/**
 * An upper bound of the size of a conversion's output: the decoded duration (plus 1 %, as a
 * decoder's count may differ a little) at the output rate, in the format, plus room for headers.
 * Admission reserves this much of the workspace quota for a job.
 */
export function outputSizeBound(format: OutputFormat, durationSec: number, rate: number): number {
  return Math.ceil(durationSec * 1.01 * BYTES_PER_SEC[format](rate)) + 64 * 1024;
}

export const OUTPUT_FORMATS: Record<OutputFormat, { muxer: string; codec: string[]; contentType: string }> = {
  wav: { muxer: 'wav', codec: ['-c:a', 'pcm_s16le'], contentType: 'audio/wav' },
  mp3: { muxer: 'mp3', codec: ['-c:a', 'libmp3lame', '-q:a', '2'], contentType: 'audio/mpeg' },
  ogg: { muxer: 'ogg', codec: ['-c:a', 'libvorbis', '-q:a', '5'], contentType: 'audio/ogg' },
  flac: { muxer: 'flac', codec: ['-c:a', 'flac'], contentType: 'audio/flac' },
};

/** The media type a browser plays an upload by, per the demuxer its probe chose. */
export const DEMUXER_CONTENT_TYPES: Record<string, string> = {
  wav: 'audio/wav',
  w64: 'application/octet-stream',
  flac: 'audio/flac',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  matroska: 'audio/webm',
  mov: 'audio/mp4',
  aac: 'audio/aac',
  aiff: 'audio/aiff',
};
