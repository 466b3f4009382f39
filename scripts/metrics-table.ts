import { vcfarmMetricsTable } from '../src/metrics/index.js';

// Prints README's metrics table (it goes between the metrics-table markers) from the registries.
process.stdout.write(`${await vcfarmMetricsTable()}\n`);
