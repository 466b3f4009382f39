export {
  API_FIXED_NOFILE,
  type ApiSocketOptions,
  apiNofileFor,
  WS_MAX_SOCKETS_CEILING,
  wsMaxSocketsFor,
} from './api-sizing.js';
export {
  type HaproxySizing,
  type HaproxySizingOptions,
  haproxySizing,
  maxConnectionsFor,
  NR_OPEN,
  sizingAsShell,
} from './haproxy-sizing.js';
export { loadTiers, planAsShell, type TierPlan, type TiersFile, tierPlan } from './tiers.js';
