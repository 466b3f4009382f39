export { withDeadline } from './deadline.js';
export { drainAndClose, Lifecycle, lifecyclePlugin } from './drain.js';
