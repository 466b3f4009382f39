import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError } from '../errors/index.js';

export interface ModelInfo {
  /** Folder name under MODELS_DIR; what jobs name in `model`. */
  name: string;
  /** The manifest's own name. */
  title: string;
  sampleRate: number;
  isDefault: boolean;
  /** Preset voices shipped with the model, as `preset-<file name>`. */
  presets: PresetVoice[];
}

export interface PresetVoice {
  id: string;
  name: string;
  model: string;
  f0Median: number | null;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const DEFAULT_MODEL = 'default';
/** How long a model's manifest and presets are kept before being read again (a model added or rebuilt shows up within this time). */
const CACHE_MS = 5000;

/**
 * The models vcfarm can run, read from their manifests. The API only lists them; loading and
 * checking the graphs happens in the pool threads (the API never loads ONNX Runtime).
 */
export class ModelCatalog {
  // Every POST /api/jobs needs its model: reading the manifest and presets each time cost ~2 ms.
  readonly #cache = new Map<string, { at: number; info: Promise<ModelInfo> }>();

  constructor(private readonly modelsDir: string) {}

  async list(): Promise<ModelInfo[]> {
    const entries = await readdir(this.modelsDir, { withFileTypes: true }).catch(() => []);
    const models: ModelInfo[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || !NAME.test(e.name)) continue;
      const info = await this.read(e.name).catch(() => undefined);
      if (info) models.push(info);
    }
    return models.sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.name.localeCompare(b.name));
  }

  async get(name: string = DEFAULT_MODEL): Promise<ModelInfo> {
    if (!NAME.test(name)) throw new NotFoundError(`model "${name}"`);
    return this.read(name).catch(() => {
      throw new NotFoundError(`model "${name}"`);
    });
  }

  dirOf(name: string): string {
    if (!NAME.test(name)) throw new NotFoundError(`model "${name}"`);
    return path.join(this.modelsDir, name);
  }

  /** Profile file of a preset voice, if `voiceId` names one of this model's presets. */
  async presetProfile(model: string, voiceId: string): Promise<string | undefined> {
    const info = await this.get(model);
    const preset = info.presets.find((p) => p.id === voiceId);
    return preset ? path.join(this.dirOf(model), 'voices', `${preset.name}.json`) : undefined;
  }

  private read(name: string): Promise<ModelInfo> {
    const hit = this.#cache.get(name);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.info;
    const info = this.readFromDisk(name);
    this.#cache.set(name, { at: Date.now(), info });
    info.catch(() => this.#cache.delete(name));
    return info;
  }

  private async readFromDisk(name: string): Promise<ModelInfo> {
    const dir = this.dirOf(name);
    const manifest = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
      name?: string;
      sampleRate?: number;
    };
    const files = await readdir(path.join(dir, 'voices')).catch(() => [] as string[]);
    const presets: PresetVoice[] = [];
    for (const f of files.filter((x) => x.endsWith('.json')).sort()) {
      const base = f.slice(0, -'.json'.length);
      if (!NAME.test(base)) continue;
      const profile = JSON.parse(await readFile(path.join(dir, 'voices', f), 'utf8')) as {
        f0Median?: number | null;
      };
      presets.push({ id: `preset-${base}`, name: base, model: name, f0Median: profile.f0Median ?? null });
    }
    return {
      name,
      title: manifest.name ?? name,
      sampleRate: Number(manifest.sampleRate),
      isDefault: name === DEFAULT_MODEL,
      presets,
    };
  }
}
