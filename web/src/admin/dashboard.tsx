import { useCallback, useEffect, useState } from 'preact/hooks';
import { ErrorLine } from '../error-line.js';
import { NewVersion } from '../new-version.js';
import { adminFetch, TOKEN_KEY } from './admin-api.js';
import { Chart } from './chart.js';
import { Controls } from './controls.js';
import { type Failure, Failures, type Usage, UsageTable } from './job-panels.js';
import { adaptStats, type DashboardStats, keepRecent, type Sample, sampleOf } from './stats-adapter.js';
import { QueueCounts, Workers } from './workers.js';

/** The charts keep this much history (the page's own readings, one a second). */
const KEEP_SEC = 15 * 60;
/** Failures and usage are read this often (they read more of the queue than the stats). */
const SLOW_EVERY = 5;

const THROUGHPUT = [
  { key: 'completedPerMin', label: 'done/min', stroke: '#2b7a3b' },
  { key: 'failedPerMin', label: 'failed/min', stroke: '#b00020' },
  { key: 'cancelledPerMin', label: 'cancelled/min', stroke: '#8a6d00' },
] as const;
const DEPTH = [
  { key: 'waitingHigh', label: 'high', stroke: '#b00020' },
  { key: 'waitingNormal', label: 'normal', stroke: '#2b5aa8' },
  { key: 'waitingLow', label: 'low', stroke: '#777' },
] as const;
const THREADS = [
  { key: 'threads', label: 'threads', stroke: '#2b5aa8' },
  { key: 'busy', label: 'busy', stroke: '#b35c00' },
] as const;

function TokenForm({ problem, onToken }: { problem?: string; onToken: (t: string) => void }) {
  return (
    <main>
      <h1>vcfarm operations</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onToken((e.currentTarget.elements.namedItem('token') as HTMLInputElement).value.trim());
        }}
      >
        <label>
          Admin token <input type="password" name="token" id="admin-token" required autoComplete="off" />
        </label>
        <button type="submit">Open the dashboard</button>
      </form>
      <ErrorLine text={problem} />
    </main>
  );
}

/** Workers and their threads per core, the queue, live charts, failures, usage; scale and cancel controls. */
export function Dashboard() {
  const [token, setToken] = useState(sessionStorage.getItem(TOKEN_KEY));
  const [stats, setStats] = useState<DashboardStats | undefined>();
  const [samples, setSamples] = useState<Sample[]>([]);
  const [failures, setFailures] = useState<Failure[]>([]);
  const [usage, setUsage] = useState<Usage[]>([]);
  const [problem, setProblem] = useState<string | undefined>();

  const refuse = useCallback(() => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setProblem('That admin token was refused.');
  }, []);

  /** The token's first use: one request, so a mistyped token is one failed attempt, not one per panel. */
  const check = useCallback(async (): Promise<boolean> => {
    const s = await adminFetch('/api/system/stats');
    if (s.status === 401 || s.status === 403 || s.status === 429) {
      refuse();
      if (s.status === 429) setProblem('Too many wrong admin tokens from this address; try again later.');
      return false;
    }
    await s.body?.cancel();
    return true;
  }, [refuse]);

  const refresh = useCallback(async () => {
    const [s, q] = await Promise.all([adminFetch('/api/system/stats'), adminFetch('/api/queue/status')]);
    if (s.status === 401 || s.status === 403) return refuse();
    if (!s.ok) return;
    const next = adaptStats(await s.json(), q.ok ? await q.json() : undefined);
    setStats(next);
    setSamples((old) => keepRecent(old, sampleOf(next, Date.now()), KEEP_SEC));
  }, [refuse]);

  const refreshSlow = useCallback(async () => {
    const [f, u] = await Promise.all([adminFetch('/api/admin/failures'), adminFetch('/api/admin/usage')]);
    if (f.ok) setFailures(((await f.json()) as { failures: Failure[] }).failures);
    if (u.ok) setUsage(((await u.json()) as { users: Usage[] }).users);
  }, []);

  useEffect(() => {
    if (!token) return;
    let tick = 0;
    // One reading of each kind at a time: one waiting out a shed answer (503 + Retry-After) is not
    // joined by another every second.
    let fastBusy = false;
    let slowBusy = false;
    const run = () => {
      if (!fastBusy) {
        fastBusy = true;
        void refresh().finally(() => {
          fastBusy = false;
        });
      }
      if (tick++ % SLOW_EVERY === 0 && !slowBusy) {
        slowBusy = true;
        void refreshSlow().finally(() => {
          slowBusy = false;
        });
      }
    };
    let t: ReturnType<typeof setInterval> | undefined;
    let stopped = false;
    void check().then((ok) => {
      if (!ok || stopped) return;
      run();
      t = setInterval(run, 1000);
    });
    return () => {
      stopped = true;
      clearInterval(t);
    };
  }, [token, check, refresh, refreshSlow]);

  if (!token)
    return (
      <TokenForm
        problem={problem}
        onToken={(value) => {
          sessionStorage.setItem(TOKEN_KEY, value);
          setProblem(undefined);
          setToken(value);
        }}
      />
    );

  return (
    <main class="dashboard">
      <h1>vcfarm operations</h1>
      <NewVersion />
      {stats && <Workers stats={stats} />}
      {stats && <QueueCounts stats={stats} />}
      <section id="charts">
        <h2>Live</h2>
        <Chart
          id="chart-throughput"
          title="Finished jobs per minute"
          series={[...THROUGHPUT]}
          samples={samples}
        />
        <Chart id="chart-depth" title="Waiting jobs by class" series={[...DEPTH]} samples={samples} />
        <Chart id="chart-threads" title="Threads and busy threads" series={[...THREADS]} samples={samples} />
      </section>
      <Failures failures={failures} />
      <UsageTable users={usage} />
      <Controls onApplied={refresh} />
    </main>
  );
}
