import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlansFile } from '../../src/plans/index.js';

/** The shipped config/plans.json (dist/test/helpers → three levels up). */
export const SHIPPED_PLANS = fileURLToPath(new URL('../../../config/plans.json', import.meta.url));

export function shippedPlans(): PlansFile {
  return JSON.parse(readFileSync(SHIPPED_PLANS, 'utf8')) as PlansFile;
}

/**
 * The shipped plans with limits that tests which are not about limits never reach: they poll
 * job status many times a second and upload large fixtures.
 */
export function generousPlans(): PlansFile {
  const plans = shippedPlans();
  plans.sessionRateLimit = { max: 1_000_000, windowSec: 60 };
  for (const plan of Object.values(plans.plans)) {
    for (const limit of Object.values(plan.rateLimits)) limit.max = 1_000_000;
    plan.quotas = {
      maxBytes: 2 ** 40,
      maxFiles: 1_000_000,
      maxUploadBytes: 2 ** 40,
      maxDurationSec: 24 * 3600,
      maxQueuedJobs: 100_000,
    };
    plan.maxActiveJobs = 1024;
    plan.maxJobPriority = 'high';
  }
  return plans;
}

/** Writes plans to `dir/plans.json` (after `edit`) and returns the path, for PLANS_FILE. */
export function writePlans(
  dir: string,
  plans: PlansFile = generousPlans(),
  edit?: (p: PlansFile) => void,
): string {
  edit?.(plans);
  const file = path.join(dir, 'plans.json');
  writeFileSync(file, JSON.stringify(plans, null, 2));
  return file;
}
