import { scenarios } from './scenarios.js';
import { newOutcome, type Outcome } from './tally.js';

/**
 * `npm run chaos`: each scenario on real processes (`vcfarm all` with its own Redis, DATA_DIR and
 * free port), one after another. Prints one row per scenario and exits 1 if any scenario lost,
 * stuck or duplicated a job, hung, or had a request fail where none should.
 * CHAOS_ONLY=<text> runs the scenarios whose name contains it.
 */
const only = process.env.CHAOS_ONLY?.toLowerCase();
const chosen = scenarios.filter((s) => !only || s.name.toLowerCase().includes(only));
const SCENARIO_DEADLINE_MS = 300_000;

const rows: Outcome[] = [];
for (const s of chosen) {
  const started = Date.now();
  process.stderr.write(`chaos: ${s.name} ...\n`);
  let o: Outcome;
  try {
    o = await Promise.race([
      s.run(),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`hung: over ${SCENARIO_DEADLINE_MS / 1000} s`)),
          SCENARIO_DEADLINE_MS,
        ).unref(),
      ),
    ]);
  } catch (err) {
    o = newOutcome(s.name);
    o.problems.push((err as Error).message);
  }
  rows.push(o);
  process.stderr.write(
    `chaos: ${s.name}: ${o.problems.length === 0 ? 'pass' : `FAIL (${o.problems.join('; ')})`} in ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
}

const header =
  '| scenario | submitted | completed | failed | lost | duplicated | failed requests | expected refusals | recovery | result |';
const lines = rows.map(
  (o) =>
    `| ${o.scenario} | ${o.submitted} | ${o.completed} | ${o.failed} | ${o.lost} | ${o.duplicated} | ${o.failedRequests} | ${o.expectedRefusals} | ${o.recoveryMs === null ? '–' : `${(o.recoveryMs / 1000).toFixed(1)} s`} | ${o.problems.length === 0 ? 'pass' : `FAIL: ${o.problems.join('; ')}`} |`,
);
process.stdout.write(`${[header, `|${'---|'.repeat(10)}`, ...lines].join('\n')}\n`);
process.exit(rows.every((o) => o.problems.length === 0) ? 0 : 1);
