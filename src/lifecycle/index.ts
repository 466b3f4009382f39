export { withDeadline } from './deadline.js';
export { drainAndClose, Lifecycle, lifecyclePlugin } from './drain.js';
export { PRESSURE_RETRY_AFTER_SEC, pressurePlugin } from './pressure.js';
