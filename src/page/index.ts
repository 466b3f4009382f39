export { contentSecurityPolicy } from './csp.js';
export { pagePlugin } from './plugin.js';
