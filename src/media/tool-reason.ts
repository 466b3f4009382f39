/** Absolute paths (two segments or more, so "5/min" stays) and `file:` URLs, as ffmpeg prints them. */
const PATH = /(?:file:)?(?:\/[^\s:'"()[\]/]+){2,}\/?:?/g;

/** `text` with every absolute path removed: what a user may read of a server-side message. */
export function withoutPaths(text: string): string {
  return text
    .replace(PATH, '')
    .replace(/\s{2,}/g, ' ')
    .replace(/^[\s:]+/, '')
    .trim();
}

/**
 * The first line of ffmpeg/ffprobe's stderr as a reason a user may read: the input's name
 * (`file:/…/uploads/<id>.part`), any other absolute path and the `[demuxer @ 0x…]` prefix are
 * removed, so no server path reaches an API message.
 */
export function toolReason(stderr: string, fallback: string): string {
  const line = stderr.trim().split('\n')[0] ?? '';
  return withoutPaths(line.replace(/\[[^\]]*@ 0x[0-9a-f]+\]\s*/gi, '')) || fallback;
}
