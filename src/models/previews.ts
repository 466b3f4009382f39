import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** Where a model folder keeps its preset previews (`npm run build:previews` writes them). */
export const PREVIEWS_DIR = 'previews';
export const PREVIEW_CONTENT_TYPE = 'audio/ogg';

/**
 * A preset's preview file name: `<preset>.<hash>.ogg`, the hash taken over what the preview was
 * made from: the model (`modelDigest`: its manifest and graph files) and the preset's profile as it
 * is on disk. A preset or a model rebuilt since its previews were made has no preview (rather than
 * an old one that no longer sounds like it) until the previews are built again.
 */
export function previewFileName(preset: string, profile: Buffer | string, model: string): string {
  const hash = createHash('sha256').update(model).update('\n').update(profile).digest('hex').slice(0, 16);
  return `${preset}.${hash}.ogg`;
}

/** Graph file names as manifests allow them (workers/engine/manifest.ts): no folder, no way out of it. */
const GRAPH_FILE = /^[A-Za-z0-9._-]+\.onnx$/;

/** Digests by folder, with the stamp (sizes, modification times) of the files they were taken over. */
const digests = new Map<string, { stamp: string; digest: string }>();

/**
 * A SHA-256 over a model folder's manifest and every graph file it names (in name order), or
 * undefined when the manifest cannot be read. Hashed again only when one of those files changes
 * size or modification time, so asking per request costs a few `stat`s.
 */
export async function modelDigest(modelDir: string): Promise<string | undefined> {
  const manifestPath = path.join(modelDir, 'model.json');
  const manifest = await readFile(manifestPath).catch(() => undefined);
  if (!manifest) return undefined;
  let files: string[];
  try {
    const graphs = (JSON.parse(manifest.toString('utf8')) as { graphs?: Record<string, { file?: unknown }> })
      .graphs;
    files = Object.values(graphs ?? {})
      .map((g) => g.file)
      .filter((f): f is string => typeof f === 'string' && GRAPH_FILE.test(f))
      .sort();
  } catch {
    return undefined;
  }
  const stats = await Promise.all(files.map((f) => stat(path.join(modelDir, f)).catch(() => undefined)));
  if (stats.some((s) => !s?.isFile())) return undefined;
  const stamp = [
    manifest.toString('base64'),
    ...files.map((f, i) => `${f}:${stats[i]?.size}:${stats[i]?.mtimeMs}`),
  ].join('|');
  const known = digests.get(modelDir);
  if (known?.stamp === stamp) return known.digest;
  const hash = createHash('sha256').update(manifest);
  for (const f of files) hash.update(`\n${f}\n`).update(await readFile(path.join(modelDir, f)));
  const digest = hash.digest('hex');
  digests.set(modelDir, { stamp, digest });
  return digest;
}

/** The path of the preview made from the model and the preset's current profile, or undefined when there is none. */
export async function currentPreview(modelDir: string, preset: string): Promise<string | undefined> {
  const [profile, model] = await Promise.all([
    readFile(path.join(modelDir, 'voices', `${preset}.json`)).catch(() => undefined),
    modelDigest(modelDir),
  ]);
  if (!profile || !model) return undefined;
  const file = path.join(modelDir, PREVIEWS_DIR, previewFileName(preset, profile, model));
  return stat(file).then(
    (s) => (s.isFile() && s.size > 0 ? file : undefined),
    () => undefined,
  );
}
