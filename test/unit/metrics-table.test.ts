import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { vcfarmMetricsTable as currentTable } from '../../src/metrics/index.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const BEGIN = '<!-- metrics-table:begin (generated: node dist/scripts/metrics-table.js) -->';
const END = '<!-- metrics-table:end -->';

test("README's metrics table is the one the registries make (regenerate with scripts/metrics-table.ts)", async () => {
  const readme = await readFile(README, 'utf8');
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  assert.ok(start >= 0 && end > start, 'README lacks the metrics-table markers');
  const shown = readme.slice(start + BEGIN.length, end).trim();
  assert.equal(shown, await currentTable());
});

test('every metric is named vcfarm_*, has help, and no label can hold a user or job id', async () => {
  const table = await currentTable();
  const rows = table.split('\n').filter((l) => l.startsWith('| `vcfarm_'));
  assert.ok(rows.length >= 20, `only ${rows.length} metrics`);
  for (const row of rows) {
    assert.doesNotMatch(row, /`(user|userId|user_id|job|jobId|job_id|request_id|requestId|path|url)`/, row);
    assert.ok(row.split('|')[5].trim().length > 10, `no help: ${row}`);
  }
});
