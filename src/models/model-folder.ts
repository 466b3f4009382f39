import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
// Deep imports on purpose: workers/engine/index.ts also exports the engine, which loads onnxruntime,
// and the API never does. These two modules are plain schema checks (typebox only).
import { type ModelManifest, parseManifest } from '../../workers/engine/manifest.js';
import { parseVoiceProfile } from '../../workers/engine/voice-profile.js';

export const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export interface PresetVoice {
  id: string;
  /** The profile's file name (without `.json`); the id is `preset-<name>`. */
  name: string;
  /** A human name for pickers (the profile's `displayName`; the file name when it has none). */
  displayName: string;
  /** One line on how it sounds (the profile's `description`), or null. */
  description: string | null;
  model: string;
  f0Median: number | null;
}

/** The names a preset file may carry besides its profile (scripts/build-presets.ts writes them). */
function presetNames(
  json: unknown,
  file: string,
  base: string,
): { displayName: string; description: string | null } {
  const { displayName, description } = json as { displayName?: unknown; description?: unknown };
  const text = (v: unknown, max: number, what: string): string | null => {
    if (v === undefined) return null;
    if (typeof v !== 'string' || v.trim() === '' || v.length > max || /[\n\r]/.test(v))
      throw new Unusable(`voices/${file}: ${what} must be one line of 1-${max} characters`);
    return v.trim();
  };
  return {
    displayName: text(displayName, 60, 'displayName') ?? base,
    description: text(description, 200, 'description'),
  };
}

/** What the API can check of a model folder without ONNX Runtime. */
export type FolderCheck =
  | { ok: true; manifest: ModelManifest; presets: PresetVoice[] }
  | { ok: false; message: string };

/** Thrown inside checkFolder for a problem a user can fix; its message names no server path. */
class Unusable extends Error {}

async function readJson(file: string, what: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new Unusable(`${what} cannot be read`);
  });
  try {
    return JSON.parse(text);
  } catch {
    throw new Unusable(`${what} is not valid JSON`);
  }
}

async function presetsOf(dir: string, name: string, manifest: ModelManifest): Promise<PresetVoice[]> {
  const files = await readdir(path.join(dir, 'voices')).catch(() => [] as string[]);
  const presets: PresetVoice[] = [];
  for (const f of files.filter((x) => x.endsWith('.json')).sort()) {
    const base = f.slice(0, -'.json'.length);
    if (!NAME.test(base)) continue;
    const json = await readJson(path.join(dir, 'voices', f), `voices/${f}`);
    let profile: ReturnType<typeof parseVoiceProfile>;
    try {
      profile = parseVoiceProfile(json);
    } catch (err) {
      throw new Unusable(`voices/${f}: ${(err as Error).message}`);
    }
    if (profile.model !== manifest.name || profile.sampleRate !== manifest.sampleRate) {
      throw new Unusable(
        `voices/${f} was made for model "${profile.model}" at ${profile.sampleRate} Hz, not "${manifest.name}" at ${manifest.sampleRate} Hz`,
      );
    }
    presets.push({
      id: `preset-${base}`,
      name: base,
      ...presetNames(json, f, base),
      model: name,
      f0Median: profile.f0Median,
    });
  }
  return presets;
}

/**
 * Checks `dir` as model `name`: the manifest (schema and references), that every graph file is there,
 * and the preset voices. Whether the graphs match the manifest only a worker can tell (it loads them).
 */
export async function checkFolder(dir: string, name: string): Promise<FolderCheck> {
  try {
    let manifest: ModelManifest;
    try {
      manifest = parseManifest(await readJson(path.join(dir, 'model.json'), 'model.json'));
    } catch (err) {
      if (err instanceof Unusable) throw err;
      throw new Unusable((err as Error).message);
    }
    for (const [graph, spec] of Object.entries(manifest.graphs)) {
      const s = await stat(path.join(dir, spec.file)).catch(() => undefined);
      if (!s?.isFile()) throw new Unusable(`graph "${graph}": file ${spec.file} is missing`);
    }
    return { ok: true, manifest, presets: await presetsOf(dir, name, manifest) };
  } catch (err) {
    if (err instanceof Unusable) return { ok: false, message: err.message };
    throw err;
  }
}
