export { BUILD_HEADER, type PageBuildOptions, pageBuildPlugin, WEB_ROOT } from './build.js';
export { contentSecurityPolicy } from './csp.js';
export { pagePlugin } from './plugin.js';
