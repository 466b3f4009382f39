import { useCallback, useEffect, useState } from 'preact/hooks';

// The admin token is entered once per browser tab and kept in sessionStorage (gone with the tab).
const TOKEN_KEY = 'vcfarm.admin';

interface Thread {
  index: number;
  core: number | null;
  busy: boolean;
  retiring: boolean;
}
interface Worker {
  id: string;
  host: string;
  pid: number;
  size: number;
  threads: Thread[];
  busy: number;
  jobsDone: number;
  jobsFailed: number;
  meanRealTimeFactor: number | null;
  autoscale: { enabled: boolean; min: number | null; max: number | null };
}
interface Stats {
  totals: { workers: number; threads: number; busy: number; draining: number };
  workers: Worker[];
  throughput: { window: string; completed: number; failed: number; perMinute: number }[];
}
interface QueueStatus {
  counts: Record<string, number>;
  waitingByPriority: Record<string, number>;
}

async function adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}`);
  return fetch(path, { ...init, headers });
}

/** Workers and their threads per core, the queue, throughput; scale and autoscale controls. */
export function Dashboard() {
  const [token, setToken] = useState(sessionStorage.getItem(TOKEN_KEY));
  const [stats, setStats] = useState<Stats | undefined>();
  const [queue, setQueue] = useState<QueueStatus | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [scaleLine, setScaleLine] = useState<string | undefined>();

  const refresh = useCallback(async () => {
    const [s, q] = await Promise.all([adminFetch('/api/system/stats'), adminFetch('/api/queue/status')]);
    if (s.status === 401 || s.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      setToken(null);
      setProblem('That admin token was refused.');
      return;
    }
    if (s.ok) setStats((await s.json()) as Stats);
    if (q.ok) setQueue((await q.json()) as QueueStatus);
  }, []);

  useEffect(() => {
    if (!token) return;
    void refresh();
    const t = setInterval(refresh, 1000);
    return () => clearInterval(t);
  }, [token, refresh]);

  if (!token)
    return (
      <main>
        <h1>vcfarm operations</h1>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const value = (e.currentTarget.elements.namedItem('token') as HTMLInputElement).value.trim();
            sessionStorage.setItem(TOKEN_KEY, value);
            setProblem(undefined);
            setToken(value);
          }}
        >
          <label>
            Admin token <input type="password" name="token" id="admin-token" required autoComplete="off" />
          </label>
          <button type="submit">Open the dashboard</button>
        </form>
        {problem && <p class="error">{problem}</p>}
      </main>
    );

  /** POST /api/system/scale; a 202 is followed at its statusUrl until every worker applied it. */
  const scale = async (body: object, what: string) => {
    setScaleLine(`${what}: sent…`);
    let res = await adminFetch('/api/system/scale', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    let answer = (await res.json()) as { statusUrl?: string; message?: string };
    if (!res.ok && res.status !== 202)
      return setScaleLine(`${what}: refused: ${answer.message ?? res.status}`);
    const url = answer.statusUrl;
    while (res.status === 202 && url) {
      setScaleLine(`${what}: in progress (busy threads finish their job first)…`);
      await new Promise((r) => setTimeout(r, 500));
      res = await adminFetch(url);
      answer = await res.json();
    }
    setScaleLine(`${what}: applied.`);
    await refresh();
  };

  return (
    <main>
      <h1>vcfarm operations</h1>
      {stats && (
        <section id="workers">
          <h2>
            Workers: {stats.totals.workers}, threads {stats.totals.threads}, busy {stats.totals.busy}
          </h2>
          <ul>
            {stats.workers.map((w) => (
              <li key={w.id} class="worker" data-worker-id={w.id}>
                <strong>{w.id}</strong> on {w.host} (pid {w.pid}):{' '}
                <span class="worker-size">size {w.size}</span>, {w.jobsDone} done, {w.jobsFailed} failed
                {w.meanRealTimeFactor ? `, speed ${w.meanRealTimeFactor.toFixed(1)}× real time` : ''},
                autoscale {w.autoscale.enabled ? `${w.autoscale.min}-${w.autoscale.max}` : 'off'}
                <ol class="threads">
                  {w.threads.map((t) => (
                    <li
                      key={t.index}
                      class="thread"
                      data-state={t.retiring ? 'retiring' : t.busy ? 'busy' : 'idle'}
                    >
                      core {t.core ?? '?'}: {t.retiring ? 'retiring' : t.busy ? 'busy' : 'idle'}
                    </li>
                  ))}
                </ol>
              </li>
            ))}
          </ul>
          <p id="throughput">
            {stats.throughput.map((t) => `${t.window}: ${t.completed} done, ${t.failed} failed`).join(' · ')}
          </p>
        </section>
      )}
      {queue && (
        <section id="queue">
          <h2>Queue</h2>
          <p>
            {Object.entries(queue.counts)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}
          </p>
          <p class="hint">
            Waiting by class:{' '}
            {Object.entries(queue.waitingByPriority)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || 'none'}
          </p>
        </section>
      )}
      <section id="controls">
        <h2>Controls</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const n = Number((e.currentTarget.elements.namedItem('size') as HTMLInputElement).value);
            void scale({ new_worker_count: n }, `Scale to ${n}`);
          }}
        >
          <label>
            Threads per worker <input type="number" name="size" id="scale-size" min="1" required />
          </label>
          <button type="submit">Scale</button>
        </form>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const f = e.currentTarget.elements;
            const min = Number((f.namedItem('min') as HTMLInputElement).value);
            const max = Number((f.namedItem('max') as HTMLInputElement).value);
            void scale({ autoscale: { min, max } }, `Autoscale ${min}-${max}`);
          }}
        >
          <label>
            Autoscale min <input type="number" name="min" min="1" required />
          </label>
          <label>
            max <input type="number" name="max" min="1" required />
          </label>
          <button type="submit">Autoscale on</button>
          <button type="button" onClick={() => scale({ autoscale: false }, 'Autoscale off')}>
            Autoscale off
          </button>
        </form>
        <p id="scale-status" role="status" aria-live="polite">
          {scaleLine}
        </p>
      </section>
    </main>
  );
}
