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

export const OUTPUT_FORMATS: Record<OutputFormat, { muxer: string; codec: string[]; contentType: string }> = {
  wav: { muxer: 'wav', codec: ['-c:a', 'pcm_s16le'], contentType: 'audio/wav' },
  mp3: { muxer: 'mp3', codec: ['-c:a', 'libmp3lame', '-q:a', '2'], contentType: 'audio/mpeg' },
  ogg: { muxer: 'ogg', codec: ['-c:a', 'libvorbis', '-q:a', '5'], contentType: 'audio/ogg' },
  flac: { muxer: 'flac', codec: ['-c:a', 'flac'], contentType: 'audio/flac' },
};
