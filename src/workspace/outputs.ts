import type { OutputFormat } from '../media/index.js';
import { fileIn, workspaceFor } from './workspace.js';

/** Where a finished conversion lives: `outputs/<jobId>.<format>`. */
export function outputPathFor(dataDir: string, userId: string, jobId: string, format: OutputFormat): string {
  return fileIn(workspaceFor(dataDir, userId).outputs, jobId, `.${format}`);
}
