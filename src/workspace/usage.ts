import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Workspace, workspaceFor } from './workspace.js';

export type FileKind = 'upload' | 'voice' | 'output';

export interface WorkspaceFile {
  kind: FileKind;
  /** The file's name in its folder: a server-chosen id (outputs: `<jobId>.<format>`). */
  name: string;
  bytes: number;
  /** Last modification (uploads are touched when a job uses them). */
  modifiedAt: number;
  /** Sidecar metadata and partial files: counted in bytes, not as files of their own. */
  auxiliary: boolean;
}

export interface WorkspaceUsage {
  bytes: number;
  files: number;
  entries: WorkspaceFile[];
}

export const FOLDERS: [FileKind, keyof Omit<Workspace, 'root'>][] = [
  ['upload', 'uploads'],
  ['voice', 'voices'],
  ['output', 'outputs'],
];

/** Sidecar metadata (`.json`), partial files (`.part`) and hidden ones: bytes of the quota, not files of it. */
export function isAuxiliary(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.json') || name.endsWith('.part');
}

/**
 * Every file of a user's workspace, read from disk (the workspace is the source of truth). The
 * folders and their files are stat'ed at once, not one after another: each stat is a trip to
 * libuv's thread pool, and a workspace of 100 files took about twice as long one at a time
 * (docs/BENCHMARKS.md, issue 17).
 */
export async function workspaceUsage(dataDir: string, userId: string): Promise<WorkspaceUsage> {
  const ws = workspaceFor(dataDir, userId);
  const perFolder = await Promise.all(
    FOLDERS.map(async ([kind, folder]) => {
      const dir = ws[folder];
      const names = await readdir(dir).catch(() => [] as string[]);
      const stats = await Promise.all(names.map((name) => stat(path.join(dir, name)).catch(() => undefined)));
      const found: WorkspaceFile[] = [];
      for (const [i, name] of names.entries()) {
        const st = stats[i];
        if (!st?.isFile()) continue;
        found.push({ kind, name, bytes: st.size, modifiedAt: st.mtimeMs, auxiliary: isAuxiliary(name) });
      }
      return found;
    }),
  );
  const entries = perFolder.flat();
  return {
    bytes: entries.reduce((n, e) => n + e.bytes, 0),
    files: entries.filter((e) => !e.auxiliary).length,
    entries,
  };
}
