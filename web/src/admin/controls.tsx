import { useState } from 'preact/hooks';
import { adminFetch } from './admin-api.js';
import { CancelJob } from './job-panels.js';

/** Scale to N and autoscale (each followed until applied), and cancel any job. */
export function Controls({ onApplied }: { onApplied: () => Promise<void> }) {
  const [scaleLine, setScaleLine] = useState<string | undefined>();

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
    await onApplied();
  };

  return (
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
      <h3>Cancel a job</h3>
      <CancelJob />
    </section>
  );
}
