// Whether the API now belongs to another build than this page (a page left open across a deploy:
// routes it knows may have moved). The server writes the page's build into its HTML and names its
// own on every answer (`x-vcfarm-build`, src/page/build.ts).

const BUILD_HEADER = 'x-vcfarm-build';
const mine = document.querySelector<HTMLMetaElement>('meta[name="vcfarm-build"]')?.content ?? '';
let newer = false;
const listeners = new Set<() => void>();

/** Notes the build an answer names; the first time it is not this page's, tells the listeners. */
export function noteBuild(build: string | null): void {
  if (newer || !mine || !build || build === mine) return;
  newer = true;
  for (const listener of listeners) listener();
}

/** Notes the build of a fetch answer. */
export const noteAnswer = (res: Response): void => noteBuild(res.headers.get(BUILD_HEADER));

/** Notes the build of an XMLHttpRequest answer. */
export const noteXhr = (xhr: XMLHttpRequest): void => noteBuild(xhr.getResponseHeader(BUILD_HEADER));

/** Calls `listener` once a newer build is seen (at once if it was); returns the unsubscribe. */
export function onNewBuild(listener: () => void): () => void {
  if (newer) listener();
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Asks the API for its build (after the WebSocket came back: a deploy restarts the instances). */
export async function checkBuild(): Promise<void> {
  const res = await fetch('/api/version').catch(() => undefined);
  if (!res) return;
  noteAnswer(res);
  await res.body?.cancel();
}
