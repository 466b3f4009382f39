import { register } from 'node:module';

/**
 * Loaded with `node --import` in a child process under test: every module the process imports
 * (ESM resolution, which is how vcfarm and its packages load) is appended, as a URL per line, to
 * the file named by VCFARM_MODULE_LOG.
 */
register('./module-recorder-hooks.js', import.meta.url);
