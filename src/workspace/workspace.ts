import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../errors/index.js';

export interface Workspace {
  root: string;
  uploads: string;
  voices: string;
  outputs: string;
}

const USER_ID = /^u_[a-z0-9]{4,64}$/;
const FILE_ID = /^[a-zA-Z0-9_-]{8,64}$/;

/** Paths of one user's workspace. Ids are checked here so no path is ever built from raw input. */
export function workspaceFor(dataDir: string, userId: string): Workspace {
  if (!USER_ID.test(userId)) throw new ValidationError(`invalid user id`);
  const root = path.join(dataDir, 'workspaces', userId);
  return {
    root,
    uploads: path.join(root, 'uploads'),
    voices: path.join(root, 'voices'),
    outputs: path.join(root, 'outputs'),
  };
}

/** Creates the workspace folders on first use (idempotent); the three at once (a worker does it per job). */
export async function ensureWorkspace(ws: Workspace): Promise<Workspace> {
  await Promise.all(
    [ws.uploads, ws.voices, ws.outputs].map((dir) => mkdir(dir, { recursive: true, mode: 0o700 })),
  );
  return ws;
}

/** Joins a server-chosen file id to a workspace folder, refusing anything that is not an id. */
export function fileIn(dir: string, id: string, suffix = ''): string {
  if (!FILE_ID.test(id)) throw new ValidationError('invalid file id');
  return path.join(dir, `${id}${suffix}`);
}
