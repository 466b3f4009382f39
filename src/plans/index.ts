export { type EffectivePlan, effectivePlan, loadPlans } from './plans.js';
export {
  type Plan,
  type PlanOverrides,
  PlanOverridesSchema,
  type PlansFile,
  PlansFileSchema,
  RATE_CLASSES,
  type RateClass,
} from './schema.js';
