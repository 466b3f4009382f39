import type { Registry } from 'prom-client';
import { ApiMetrics } from './api-metrics.js';
import { registerQueueGauges } from './queue-depth.js';
import { WorkerMetrics } from './worker-metrics.js';

interface MetricJson {
  name: string;
  help: string;
  type: string;
  values?: { labels: Record<string, string | number> }[];
}

/** Label names a metric declares (prom-client keeps them on the metric object). */
function labelNames(registry: Registry, name: string): string[] {
  const m = registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
  return m?.labelNames ?? [];
}

/**
 * README's metrics table (name, type, labels, meaning), made from the registries themselves so
 * the table cannot drift from the code; process defaults (`process_*`, `nodejs_*`) are summed up
 * in one line. `test/unit/metrics-table.test.ts` fails when README's copy differs.
 */
export async function metricsTable(sources: { process: string; registry: Registry }[]): Promise<string> {
  const rows = ['| Metric | Type | Labels | Process | Meaning |', '|---|---|---|---|---|'];
  for (const { process, registry } of sources) {
    const metrics = (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
    for (const m of metrics) {
      if (!m.name.startsWith('vcfarm_')) continue;
      const labels = labelNames(registry, m.name)
        .map((l) => `\`${l}\``)
        .join(', ');
      rows.push(`| \`${m.name}\` | ${m.type} | ${labels || '—'} | ${process} | ${m.help} |`);
    }
  }
  rows.push(
    '| `process_*`, `nodejs_*` | various | — | every process | prom-client defaults: CPU, resident memory, heap, event-loop lag, GC, handles |',
  );
  return rows.join('\n');
}

/** The table for vcfarm's registries as its processes build them (no pool or Redis behind the gauges). */
export async function vcfarmMetricsTable(): Promise<string> {
  const api = new ApiMetrics({ defaults: false });
  registerQueueGauges(api.registry, async () => undefined);
  const pool = { size: 0, busyCount: 0, drainingCount: 0, threads: () => [], ortSessions: () => 0 };
  const worker = new WorkerMetrics(pool, { defaults: false });
  return metricsTable([
    { process: 'API', registry: api.registry },
    { process: 'worker', registry: worker.registry },
  ]);
}
