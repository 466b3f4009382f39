export * from './core.js';
export { scalingPlugin } from './plugin.js';
