export { outputPathFor, partialOutputPathFor } from './outputs.js';
export { workspacePlugin } from './plugin.js';
export { type RemovedFile, type SweeperOptions, WorkspaceSweeper } from './sweeper.js';
export { sweeperPlugin } from './sweeper-plugin.js';
export { type LimitedStream, type Upload, type UploadLimits, UploadStore } from './uploads.js';
export { type FileKind, type WorkspaceFile, type WorkspaceUsage, workspaceUsage } from './usage.js';
export { ensureWorkspace, fileIn, type Workspace, workspaceFor } from './workspace.js';
