import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltModel } from './built-model.js';

/** Writes model.json (stable key order, trailing newline) and every graph file into `dir`. */
export async function writeModel(model: BuiltModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), `${JSON.stringify(model.manifest, null, 2)}\n`);
  for (const [file, bytes] of Object.entries(model.files)) await writeFile(join(dir, file), bytes);
}
