import path from 'node:path';
import type { OutputFormat } from '../media/index.js';
import { fileIn, workspaceFor } from './workspace.js';

/** Where a finished conversion lives: `outputs/<jobId>.<format>`. */
export function outputPathFor(dataDir: string, userId: string, jobId: string, format: OutputFormat): string {
  return fileIn(workspaceFor(dataDir, userId).outputs, jobId, `.${format}`);
}

/**
 * Name a conversion is written under until it is complete. Starts with a dot and carries the
 * attempt, so a crashed attempt's leftovers are recognisable and never look finished.
 */
export function partialOutputPathFor(finalPath: string, attempt: number): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.${attempt}.part`);
}
