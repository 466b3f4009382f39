export { outputPathFor, partialOutputPathFor } from './outputs.js';
export { workspacePlugin } from './plugin.js';
export { type LimitedStream, type Upload, type UploadLimits, UploadStore } from './uploads.js';
export { ensureWorkspace, fileIn, type Workspace, workspaceFor } from './workspace.js';
