// The folder's surface without its Fastify plugin: what worker processes (and other folders' non-plugin code) import.
export {
  DEFAULT_MODEL,
  ModelCatalog,
  type ModelCatalogOptions,
  type ModelInfo,
  type PresetVoice,
} from './catalog.js';
export { ModelLoadReports } from './load-reports.js';
