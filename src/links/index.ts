export { resultLinksPlugin } from './plugin.js';
export { ResultLinks } from './result-links.js';
