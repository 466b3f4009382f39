import { readFileSync } from 'node:fs';
import { Value } from 'typebox/value';
import { ConfigError } from '../errors/index.js';
import { issueLines } from '../validation/index.js';
import { type Plan, type PlanOverrides, type PlansFile, PlansFileSchema } from './schema.js';

/** A plan with the user's overrides applied: what every limit check reads. */
export interface EffectivePlan extends Plan {
  name: string;
}

/**
 * Reads and validates the plans file once at start-up. A bad file throws a ConfigError that
 * names the file and the field (`plans.free.quotas.maxBytes: ...`), like a bad variable does.
 */
export function loadPlans(file: string): PlansFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`PLANS_FILE=${JSON.stringify(file)}: ${(err as Error).message}`);
  }
  const errors = [...Value.Errors(PlansFileSchema, raw)];
  if (errors.length > 0) {
    const lines = issueLines(
      errors,
      (path) => path.replace(/^\//, '').replaceAll('/', '.') || 'the document',
    ).slice(0, 5);
    throw new ConfigError(`PLANS_FILE=${JSON.stringify(file)}: ${lines.join('; ')}`);
  }
  const plans = raw as PlansFile;
  if (!plans.plans[plans.anonymousPlan])
    throw new ConfigError(
      `PLANS_FILE=${JSON.stringify(file)}: anonymousPlan: "${plans.anonymousPlan}" is not a plan`,
    );
  return plans;
}

/** The user's plan with overrides applied, object by object. */
export function effectivePlan(plans: PlansFile, name: string, overrides: PlanOverrides = {}): EffectivePlan {
  const base = plans.plans[name] ?? plans.plans[plans.anonymousPlan];
  return {
    ...base,
    ...(overrides.priorityBase !== undefined ? { priorityBase: overrides.priorityBase } : {}),
    ...(overrides.maxJobPriority !== undefined ? { maxJobPriority: overrides.maxJobPriority } : {}),
    ...(overrides.maxActiveJobs !== undefined ? { maxActiveJobs: overrides.maxActiveJobs } : {}),
    name: plans.plans[name] ? name : plans.anonymousPlan,
    quotas: { ...base.quotas, ...overrides.quotas },
    ttl: { ...base.ttl, ...overrides.ttl },
    rateLimits: { ...base.rateLimits, ...overrides.rateLimits },
  };
}
