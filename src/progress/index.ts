export * from './core.js';
export { progressPlugin } from './plugin.js';
