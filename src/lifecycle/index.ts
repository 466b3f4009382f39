export { drainAndClose, Lifecycle, lifecyclePlugin } from './drain.js';
