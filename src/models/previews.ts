import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** Where a model folder keeps its preset previews (`npm run build:previews` writes them). */
export const PREVIEWS_DIR = 'previews';
export const PREVIEW_CONTENT_TYPE = 'audio/ogg';

/**
 * A preset's preview file name: `<preset>.<hash>.ogg`, the hash taken over the preset's profile
 * as it is on disk. A preset rebuilt since its preview was made has no preview (rather than an
 * old one that no longer sounds like it) until the previews are built again.
 */
export function previewFileName(preset: string, profile: Buffer | string): string {
  const hash = createHash('sha256').update(profile).digest('hex').slice(0, 16);
  return `${preset}.${hash}.ogg`;
}

/** The path of the preview made from the preset's current profile, or undefined when there is none. */
export async function currentPreview(modelDir: string, preset: string): Promise<string | undefined> {
  const profile = await readFile(path.join(modelDir, 'voices', `${preset}.json`)).catch(() => undefined);
  if (!profile) return undefined;
  const file = path.join(modelDir, PREVIEWS_DIR, previewFileName(preset, profile));
  return stat(file).then(
    (s) => (s.isFile() && s.size > 0 ? file : undefined),
    () => undefined,
  );
}
