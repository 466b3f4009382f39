import { useState } from 'preact/hooks';
import type { FailureView, UserUsage } from '../../../src/queue/conversion-job.js';
import { adminFetch, messageOf } from './admin-api.js';

/** The server's own shapes (GET /api/admin/failures, /api/admin/usage), each with its account's name. */
interface Named {
  /** Null for an anonymous session (or an account removed since). */
  userName: string | null;
}
export type Failure = FailureView & Named;
export type Usage = UserUsage & Named;

/** A user by account name, the id on hover and one click from the clipboard. */
function UserCell({ id, name }: { id: string; name: string | null }) {
  const shown = name ?? 'anonymous';
  return (
    <td class="user-name">
      <span title={id}>{shown}</span>{' '}
      <button
        type="button"
        class="copy-id"
        title={id}
        aria-label={`Copy id of ${shown}`}
        onClick={() => void navigator.clipboard?.writeText(id).catch(() => undefined)}
      >
        Copy id
      </button>
    </td>
  );
}

/** The newest jobs that failed for good, with their codes. */
export function Failures({ failures }: { failures: Failure[] }) {
  return (
    <section id="failures">
      <h2>Recent failures</h2>
      {failures.length === 0 ? (
        <p class="hint">No job has failed lately.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Code</th>
              <th scope="col">Why</th>
              <th scope="col">User</th>
              <th scope="col">Job</th>
            </tr>
          </thead>
          <tbody>
            {failures.map((f) => (
              <tr key={f.id} class="failure" data-job-id={f.id}>
                <td>{f.finishedAt ? new Date(f.finishedAt).toLocaleTimeString() : '—'}</td>
                <td class="failure-code">{f.code}</td>
                <td>{f.message}</td>
                <UserCell id={f.userId} name={f.userName} />
                <td>
                  {f.kind} {f.filename} <code>{f.id}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Jobs per user: queued and running now, and the recently finished ones the queue keeps. */
export function UsageTable({ users }: { users: Usage[] }) {
  return (
    <section id="usage">
      <h2>Usage by user</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Queued</th>
            <th scope="col">Running</th>
            <th scope="col">Done</th>
            <th scope="col">Failed</th>
            <th scope="col">Cancelled</th>
            <th scope="col">Audio</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.userId} class="user-usage" data-user-id={u.userId}>
              <UserCell id={u.userId} name={u.userName} />
              <td>{u.queued}</td>
              <td>{u.active}</td>
              <td>{u.completed}</td>
              <td>{u.failed}</td>
              <td>{u.cancelled}</td>
              <td>{Math.round(u.audioSec)} s</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Cancel any user's job by its id; a running one is followed until it has stopped. */
export function CancelJob() {
  const [line, setLine] = useState<string | undefined>();
  const cancel = async (id: string) => {
    setLine(`Job ${id}: cancelling…`);
    let res = await adminFetch(`/api/admin/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if (!res.ok) return setLine(`Job ${id}: refused: ${await messageOf(res)}`);
    let body = (await res.json()) as { job: { state: string } };
    for (let i = 0; i < 60 && (body.job.state === 'queued' || body.job.state === 'active'); i++) {
      setLine(`Job ${id}: stopping…`);
      await new Promise((r) => setTimeout(r, 500));
      res = await adminFetch(`/api/admin/jobs/${encodeURIComponent(id)}`);
      if (!res.ok) return setLine(`Job ${id}: ${await messageOf(res)}`);
      body = await res.json();
    }
    setLine(`Job ${id}: ${body.job.state}.`);
  };
  return (
    <form
      id="cancel-job"
      onSubmit={(e) => {
        e.preventDefault();
        const id = (e.currentTarget.elements.namedItem('job') as HTMLInputElement).value.trim();
        if (id) void cancel(id);
      }}
    >
      <label>
        Job id <input name="job" id="cancel-job-id" required pattern="[a-zA-Z0-9_\-]{8,64}" />
      </label>
      <button type="submit">Cancel job</button>
      <p id="cancel-status" role="status" aria-live="polite">
        {line}
      </p>
    </form>
  );
}
