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

/** Every file of a user's workspace, read from disk (the workspace is the source of truth). */
export async function workspaceUsage(dataDir: string, userId: string): Promise<WorkspaceUsage> {
  const ws = workspaceFor(dataDir, userId);
  const entries: WorkspaceFile[] = [];
  for (const [kind, folder] of FOLDERS) {
    const dir = ws[folder];
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const st = await stat(path.join(dir, name)).catch(() => undefined);
      if (!st?.isFile()) continue;
      const auxiliary = name.startsWith('.') || name.endsWith('.json') || name.endsWith('.part');
      entries.push({ kind, name, bytes: st.size, modifiedAt: st.mtimeMs, auxiliary });
    }
  }
  return {
    bytes: entries.reduce((n, e) => n + e.bytes, 0),
    files: entries.filter((e) => !e.auxiliary).length,
    entries,
  };
}
