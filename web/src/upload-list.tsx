import { useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import { ErrorLine } from './error-line.js';
import { expiryText, formatBytes } from './lib/format.js';
import type { Workspace } from './lib/types.js';

interface Props {
  workspace: Workspace | undefined;
  loadWorkspace: () => Promise<Workspace | undefined>;
  /** Picks the upload as the next conversion's source; a problem in words, or undefined. */
  select: (uploadId: string) => Promise<string | undefined>;
  /** Told of an upload deleted here (the form forgets it if it kept it). */
  removed: (uploadId: string) => void;
}

/**
 * Every upload the workspace holds, as the server lists it (GET /api/workspace, read on load, when a
 * job is made or ends, and after an upload whose answer never came): one whose answer was lost, or
 * sent from a tab since closed, is seen here and can be converted or deleted, not left to the sweeper.
 */
export function UploadList({ workspace, loadWorkspace, select, removed }: Props) {
  const [problem, setProblem] = useState<string | undefined>();
  const uploads = (workspace?.files ?? []).filter((f) => f.kind === 'upload');
  const remove = async (id: string, name: string) => {
    const res = await api(`/api/uploads/${encodeURIComponent(id)}`, { method: 'DELETE' });
    // Gone already (another tab, the sweeper): the list read again says so too.
    if (res.ok || res.status === 404) {
      setProblem(undefined);
      removed(id);
    } else setProblem(await errorText(res, `deleting ${name}`));
    await loadWorkspace();
  };
  return (
    <section id="uploads-section">
      <h2>Your uploads</h2>
      {workspace && uploads.length === 0 && <p class="hint">No uploaded files.</p>}
      <ul id="uploads">
        {uploads.map((f) => {
          const name = f.filename ?? 'audio';
          return (
            <li key={f.name} class="upload" data-upload-id={f.name}>
              <span class="upload-name">{name}</span>{' '}
              <span class="hint">
                {formatBytes(f.bytes)}, {expiryText(f.expiresInSec)}
              </span>{' '}
              <button
                type="button"
                aria-label={`Convert ${name}`}
                onClick={async () => setProblem(await select(f.name))}
              >
                Convert
              </button>{' '}
              <button type="button" aria-label={`Delete ${name}`} onClick={() => remove(f.name, name)}>
                Delete
              </button>
            </li>
          );
        })}
      </ul>
      <ErrorLine text={problem} />
    </section>
  );
}
