import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ModelBrokenError, NotFoundError } from '../errors/index.js';
import { folderStamp, type ModelLoadReports } from './load-reports.js';
import { checkFolder, NAME, type PresetVoice } from './model-folder.js';

export type { PresetVoice } from './model-folder.js';

export interface ModelInfo {
  /** Folder name under MODELS_DIR; what jobs name in `model`. */
  name: string;
  /** The manifest's own name (the folder name while the manifest is unreadable). */
  title: string;
  /** Rate the model takes; null while broken. */
  sampleRate: number | null;
  /** Rate of the model's output (differs from sampleRate for e.g. RVC generators); null while broken. */
  outputSampleRate: number | null;
  isDefault: boolean;
  /** `broken`: the folder has a model.json but cannot be used; `error` says why. */
  state: 'ready' | 'broken';
  error: { code: 'VC_ERR_MODEL_BROKEN'; message: string } | null;
  /** Preset voices shipped with the model, as `preset-<file name>`. */
  presets: PresetVoice[];
}

export const DEFAULT_MODEL = 'default';

function hasManifest(dir: string): Promise<boolean> {
  return access(path.join(dir, 'model.json')).then(
    () => true,
    () => false,
  );
}

/** A model folder whose name is not a model name (NAME): listed, broken, with what to do. */
function misnamed(folder: string): ModelInfo {
  return {
    name: folder,
    title: folder,
    sampleRate: null,
    outputSampleRate: null,
    isDefault: false,
    state: 'broken',
    error: {
      code: 'VC_ERR_MODEL_BROKEN',
      message:
        'the folder name cannot name a model: rename the folder to 1-64 lowercase letters, digits, "-" or "_", starting with a letter or digit',
    },
    presets: [],
  };
}

export interface ModelCatalogOptions {
  /**
   * How long a usable model's manifest and presets are trusted before the folder is checked again
   * (a model rebuilt in place shows up within this time). Default 5000 ms.
   */
  cacheMs?: number;
}

const DEFAULTS: Required<ModelCatalogOptions> = { cacheMs: 5000 };

interface CacheEntry {
  /** When the folder was last found unchanged (or read). */
  at: number;
  /** The folder's files by name, size and modification time when `info` was read. */
  stamp: Promise<string>;
  info: Promise<ModelInfo>;
}

/**
 * The models vcfarm can run: every folder of MODELS_DIR with a model.json, read again on each
 * listing, so a folder added at run time is listed at once. A folder that cannot be used is
 * listed as `broken` with the reason. The API only checks what it can without ONNX Runtime
 * (manifest, graph files present, presets); the pool threads load and check the graphs.
 */
export class ModelCatalog {
  // Every POST /api/jobs needs its model: reading the manifest and presets each time cost ~2 ms
  // (and under load 30-70 ms of the event loop: parsing and checking five 28 KB profiles).
  readonly #cache = new Map<string, CacheEntry>();
  readonly #cacheMs: number;

  /** `reports`: what workers found loading the graphs; a model with a current report is listed broken. */
  constructor(
    private readonly modelsDir: string,
    private readonly reports?: ModelLoadReports,
    options: ModelCatalogOptions = {},
  ) {
    const cacheMs = options.cacheMs ?? DEFAULTS.cacheMs;
    if (!Number.isFinite(cacheMs) || cacheMs < 0)
      throw new TypeError('options.cacheMs must be a number of milliseconds, 0 or more');
    this.#cacheMs = cacheMs;
  }

  async list(): Promise<ModelInfo[]> {
    const entries = await readdir(this.modelsDir, { withFileTypes: true }).catch(() => []);
    const models: ModelInfo[] = [];
    for (const e of entries) {
      // Hidden folders are nobody's model (an editor's or a copy's leftovers).
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      // A folder without a manifest is not a model (yet: it may still be being copied in).
      if (!(await hasManifest(path.join(this.modelsDir, e.name)))) continue;
      // A model whose folder name a job cannot name is listed as broken, saying why, not left out.
      models.push(NAME.test(e.name) ? await this.#current(e.name) : misnamed(e.name));
    }
    return models.sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.name.localeCompare(b.name));
  }

  /** A usable model; NotFoundError if there is none of that name, ModelBrokenError if it is broken. */
  async get(name: string = DEFAULT_MODEL): Promise<ModelInfo> {
    if (!NAME.test(name) || !(await hasManifest(this.dirOf(name))))
      throw new NotFoundError(`model "${name}"`);
    const info = await this.#current(name);
    if (info.error) throw new ModelBrokenError(name, info.error.message);
    return info;
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

  /** The folder's info with the workers' report applied (never cached: a report counts at once). */
  async #current(name: string): Promise<ModelInfo> {
    const info = await this.read(name);
    if (info.error || !this.reports) return info;
    // Without Redis the report is unknown; the workers still refuse the model with its error.
    const message = await this.reports.errorFor(name, this.dirOf(name)).catch(() => undefined);
    if (message === undefined) return info;
    return { ...info, state: 'broken', error: { code: 'VC_ERR_MODEL_BROKEN', message }, presets: [] };
  }

  /**
   * The model's info, read from disk at most once per change of its folder: once the entry is
   * older than `cacheMs`, the folder's stamp (names, sizes, modification times: file-system calls,
   * no parsing) is taken again, and the manifest and presets are read and checked again only if
   * it differs. The stamp is taken before the read, so a change made during a read shows as a
   * different stamp at the next check.
   */
  private read(name: string): Promise<ModelInfo> {
    const hit = this.#cache.get(name);
    const now = Date.now();
    if (hit && now - hit.at < this.#cacheMs) return hit.info;
    const stamp = folderStamp(this.dirOf(name));
    const info = stamp.then(async (s) =>
      hit && s === (await hit.stamp) ? hit.info : this.readFromDisk(name),
    );
    this.#cache.set(name, { at: now, stamp, info });
    // Only usable models are cached: a broken one is checked again on every request, so a fix shows at once.
    info.then(
      (i) => i.error && this.#cache.delete(name),
      () => this.#cache.delete(name),
    );
    return info;
  }

  private async readFromDisk(name: string): Promise<ModelInfo> {
    const check = await checkFolder(this.dirOf(name), name);
    const isDefault = name === DEFAULT_MODEL;
    if (!check.ok) {
      return {
        name,
        title: name,
        sampleRate: null,
        outputSampleRate: null,
        isDefault,
        state: 'broken',
        error: { code: 'VC_ERR_MODEL_BROKEN', message: check.message },
        presets: [],
      };
    }
    const m = check.manifest;
    return {
      name,
      title: m.name,
      sampleRate: m.sampleRate,
      outputSampleRate: m.outputSampleRate ?? m.sampleRate,
      isDefault,
      state: 'ready',
      error: null,
      presets: check.presets,
    };
  }
}
