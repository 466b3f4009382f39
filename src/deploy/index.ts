export { loadTiers, planAsShell, type TierPlan, type TiersFile, tierPlan } from './tiers.js';
