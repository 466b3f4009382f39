export { corsPlugin } from './plugin.js';
