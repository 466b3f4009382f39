import type { ModelManifest } from '../../workers/engine/index.js';

/** A model as the builder produces it: the manifest plus the bytes of every graph it names. */
export interface BuiltModel {
  manifest: ModelManifest;
  files: Record<string, Uint8Array>;
}

/** ORT 1.30 runs opset 17-20; 18 is the first with Col2Im and keeps DFT's axis an attribute. */
export const OPSET = 18;
