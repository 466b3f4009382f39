import type { ApiClient } from '../test/helpers/client.js';

/** What one scenario measured; `check` says whether it passed. */
export interface Outcome {
  scenario: string;
  submitted: number;
  completed: number;
  /** Jobs that ended failed (expected in some scenarios: unwritable outputs, disk full). */
  failed: number;
  /** Jobs not in a final state when the scenario's deadline passed (lost or stuck). */
  lost: number;
  /** Jobs some worker completed more than once. */
  duplicated: number;
  /** HTTP requests that failed where none should (network errors, 5xx, anything unexpected). */
  failedRequests: number;
  /** Refusals the scenario expects (507 on a full disk, 503 while Redis restarts). */
  expectedRefusals: number;
  /** From the fault to the service answering /health 200 again (ms), when it applies. */
  recoveryMs: number | null;
  problems: string[];
}

export function newOutcome(scenario: string): Outcome {
  return {
    scenario,
    submitted: 0,
    completed: 0,
    failed: 0,
    lost: 0,
    duplicated: 0,
    failedRequests: 0,
    expectedRefusals: 0,
    recoveryMs: null,
    problems: [],
  };
}

/**
 * Waits until every job is final (or `deadlineMs` passes), then counts completed, failed, lost
 * (not final) and duplicated (completed more than once according to the workers' logs).
 */
export async function settle(
  o: Outcome,
  client: ApiClient,
  jobIds: string[],
  /** Processes whose JSON logs include the workers' "conversion completed" lines. */
  all: { logs: Record<string, unknown>[] } | { logs: Record<string, unknown>[] }[],
  deadlineMs = 180_000,
  expectedFailures: number | 'any' = 0,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  const states = new Map<string, string>();
  while (Date.now() < until) {
    for (const id of jobIds) {
      if (states.get(id) === 'completed' || states.get(id) === 'failed') continue;
      const res = await client.request('GET', `/api/jobs/${id}`).catch(() => undefined);
      if (res?.status === 200) states.set(id, res.body.job.state);
    }
    if (jobIds.every((id) => ['completed', 'failed', 'cancelled'].includes(states.get(id) ?? ''))) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  o.submitted += jobIds.length;
  for (const id of jobIds) {
    const s = states.get(id);
    if (s === 'completed') o.completed++;
    else if (s === 'failed') o.failed++;
    else o.lost++;
  }
  const logs = (Array.isArray(all) ? all : [all]).flatMap((a) => a.logs);
  for (const id of jobIds) {
    const n = logs.filter((l) => l.msg === 'conversion completed' && l.jobId === id).length;
    if (n > 1) o.duplicated++;
  }
  if (o.lost > 0) o.problems.push(`${o.lost} job(s) lost or stuck`);
  if (o.duplicated > 0) o.problems.push(`${o.duplicated} job(s) completed twice`);
  if (expectedFailures !== 'any' && o.failed !== expectedFailures)
    o.problems.push(`${o.failed} failed job(s), expected ${expectedFailures}`);
  if (o.failedRequests > 0) o.problems.push(`${o.failedRequests} failed request(s)`);
}

/** Counts a request's outcome: `ok` statuses pass, `refusals` are expected refusals, the rest fail. */
export function count(o: Outcome, status: number, ok: number[], refusals: number[] = []): boolean {
  if (ok.includes(status)) return true;
  if (refusals.includes(status)) o.expectedRefusals++;
  else o.failedRequests++;
  return false;
}
