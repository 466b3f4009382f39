export * from './core.js';
export { metricsPlugin } from './plugin.js';
