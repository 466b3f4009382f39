export * from './core.js';
export { queuePlugin } from './plugin.js';
