import type { DashboardStats } from './stats-adapter.js';
import { windowText } from './stats-adapter.js';

/** Every worker host with its threads per core, and the finished jobs per window. */
export function Workers({ stats }: { stats: DashboardStats }) {
  return (
    <section id="workers">
      <h2>
        Workers: {stats.totals.workers}, threads {stats.totals.threads}, busy {stats.totals.busy}
      </h2>
      <ul>
        {stats.workers.map((w) => (
          <li key={w.id} class="worker" data-worker-id={w.id}>
            <strong>{w.id}</strong> on {w.host} (pid {w.pid}): <span class="worker-size">size {w.size}</span>,{' '}
            {w.jobsDone} done, {w.jobsFailed} failed
            {w.meanRealTimeFactor ? `, speed ${w.meanRealTimeFactor.toFixed(1)}× real time` : ''}, autoscale{' '}
            {w.autoscale.enabled ? `${w.autoscale.min}-${w.autoscale.max}` : 'off'}
            <ol class="threads">
              {w.threads.map((t) => (
                <li key={t.index} class="thread" data-state={t.state}>
                  core {t.core ?? '?'}: {t.state}
                </li>
              ))}
            </ol>
          </li>
        ))}
      </ul>
      <p id="throughput">{stats.windows.map(windowText).join(' · ')}</p>
    </section>
  );
}

/** The queue by state (failures and cancellations apart) and the waiting jobs by priority class. */
export function QueueCounts({ stats }: { stats: DashboardStats }) {
  return (
    <section id="queue">
      <h2>Queue</h2>
      <p>
        {Object.entries(stats.queue)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}
      </p>
      <p class="hint">
        Waiting by class:{' '}
        {Object.entries(stats.waitingByClass)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'}
      </p>
    </section>
  );
}
