export * from './core.js';
export { modelsPlugin } from './plugin.js';
