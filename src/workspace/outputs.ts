import path from 'node:path';
import type { OutputFormat } from '../media/index.js';
import { fileIn, workspaceFor } from './workspace.js';

/** Where a finished conversion lives: `outputs/<jobId>.<format>`. */
export function outputPathFor(dataDir: string, userId: string, jobId: string, format: OutputFormat): string {
  return fileIn(workspaceFor(dataDir, userId).outputs, jobId, `.${format}`);
}

/**
 * Name a conversion is written under until it is complete: `outputs/.<jobId>.<format>.<attempt>.part`.
 * Starts with a dot and carries the attempt (BullMQ's attemptsStarted), so a crashed attempt's
 * leftovers are recognisable, never look finished, and are never served as a later attempt's
 * partial result (GET /api/jobs/:id/result?partial=1 follows the current attempt's file only).
 */
export function partialOutputPath(finalPath: string, attempt: number): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.${attempt}.part`);
}
