export {
  type HaproxySizing,
  type HaproxySizingOptions,
  haproxySizing,
  maxConnectionsFor,
  NR_OPEN,
  sizingAsShell,
} from './haproxy-sizing.js';
export { loadTiers, planAsShell, type TierPlan, type TiersFile, tierPlan } from './tiers.js';
