// Prints one deploy tier of config/tiers.json (or TIERS_FILE) as shell assignments, validated
// and with the derived numbers filled in: `eval "$(node dist/scripts/tier-plan.js medium)"`.
import { fileURLToPath } from 'node:url';
import { loadTiers, planAsShell, tierPlan } from '../src/deploy/index.js';

const file = process.env.TIERS_FILE || fileURLToPath(new URL('../../config/tiers.json', import.meta.url));
try {
  process.stdout.write(`${planAsShell(tierPlan(loadTiers(file), process.argv[2] ?? ''))}\n`);
} catch (err) {
  process.stderr.write(`deploy-multiuser: ${(err as Error).message}\n`);
  process.exit(2);
}
