import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { ModelManifestError } from './errors.js';
import { type GraphSpec, type ModelManifest, parseManifest, type TensorSpec } from './manifest.js';

export interface LoadedGraph {
  readonly name: string;
  readonly spec: GraphSpec;
  readonly session: InferenceSession;
}

export interface LoadedModel {
  readonly dir: string;
  readonly manifest: ModelManifest;
  readonly graphs: ReadonlyMap<string, LoadedGraph>;
  release(): Promise<void>;
}

/**
 * One thread per session: the pool already runs one engine per core, so ORT's own thread pools would only
 * oversubscribe the machine.
 */
const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

type Side = 'input' | 'output';

function dimsMatch(declared: number | string, actual: number | string): boolean {
  // A symbolic dim in the manifest needs a dynamic dim in the graph (any name); a number must be exact.
  return typeof declared === 'string' ? typeof actual === 'string' || actual < 0 : declared === actual;
}

function checkSide(
  graph: string,
  side: Side,
  declared: readonly TensorSpec[],
  names: readonly string[],
  metadata: readonly InferenceSession.ValueMetadata[],
): void {
  const fail: (what: string, detail: string) => never = (what, detail) => {
    throw new ModelManifestError(`model manifest: graph "${graph}" ${side} "${what}": ${detail}`);
  };
  for (const name of names) {
    if (!declared.some((d) => d.name === name))
      fail(name, `the graph has this ${side} but the manifest does not`);
  }
  for (const d of declared) {
    const meta = metadata[names.indexOf(d.name)];
    if (meta === undefined) fail(d.name, `declared in the manifest but the graph has no such ${side}`);
    if (!meta.isTensor) fail(d.name, 'is not a tensor in the graph');
    if (meta.type !== d.dtype) fail(d.name, `manifest says dtype ${d.dtype}, graph has ${meta.type}`);
    const shape = meta.shape;
    const same = shape.length === d.shape.length && d.shape.every((dim, i) => dimsMatch(dim, shape[i]));
    if (!same) fail(d.name, `manifest says shape [${d.shape.join(', ')}], graph has [${shape.join(', ')}]`);
  }
}

/** Throws ModelManifestError naming the graph and the tensor when the manifest and the graph disagree. */
export function checkGraph(name: string, spec: GraphSpec, session: InferenceSession): void {
  checkSide(name, 'input', spec.inputs, session.inputNames, session.inputMetadata);
  checkSide(name, 'output', spec.outputs, session.outputNames, session.outputMetadata);
}

async function readManifest(dir: string): Promise<ModelManifest> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  } catch (cause) {
    // The message reaches users (a job's error, GET /api/models): no server path in it.
    throw new ModelManifestError('model manifest: model.json is missing or not JSON', { cause });
  }
  return parseManifest(json);
}

/** Loads `dir/model.json`, opens one session per graph and checks each against the manifest. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const manifest = await readManifest(dir);
  const graphs = new Map<string, LoadedGraph>();
  const release = async (): Promise<void> => {
    await Promise.all([...graphs.values()].map((g) => g.session.release()));
    graphs.clear();
  };
  try {
    for (const [name, spec] of Object.entries(manifest.graphs)) {
      let session: InferenceSession;
      try {
        session = await InferenceSession.create(join(dir, spec.file), SESSION_OPTIONS);
      } catch (cause) {
        throw new ModelManifestError(`model manifest: graph "${name}": cannot load ${spec.file}`, { cause });
      }
      graphs.set(name, { name, spec, session });
      checkGraph(name, spec, session);
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { dir, manifest, graphs, release };
}
