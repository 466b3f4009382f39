export * from './core.js';
export { modelsPlugin } from './plugin.js';
export {
  currentPreview,
  modelDigest,
  PREVIEW_CONTENT_TYPE,
  PREVIEWS_DIR,
  previewFileName,
} from './previews.js';
