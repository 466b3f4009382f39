// The folder's surface without its Fastify plugin: what worker processes (and other folders' non-plugin code) import.
export type { LimitedStream, UploadLimits } from './audio-intake.js';
export { outputPathFor, partialOutputPath } from './outputs.js';
export { type RemovedFile, type SweeperOptions, WorkspaceSweeper } from './sweeper.js';
export { type Upload, UploadStore } from './uploads.js';
export { type FileKind, type WorkspaceFile, type WorkspaceUsage, workspaceUsage } from './usage.js';
export { type FileChange, type Folder, UsageLedger, type UsageTotals } from './usage-ledger.js';
export { REFERENCE_MAX_SEC, REFERENCE_MIN_SEC, type Voice, VoiceStore } from './voices.js';
export { ensureWorkspace, fileIn, type Workspace, workspaceFor } from './workspace.js';
