export * from './core.js';
export { workspacePlugin } from './plugin.js';
export { sweeperPlugin } from './sweeper-plugin.js';
