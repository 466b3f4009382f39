export { DEFAULT_MODEL, ModelCatalog, type ModelInfo, type PresetVoice } from './catalog.js';
export { ModelLoadReports } from './load-reports.js';
export { modelsPlugin } from './plugin.js';
export { currentPreview, PREVIEW_CONTENT_TYPE, PREVIEWS_DIR, previewFileName } from './previews.js';
