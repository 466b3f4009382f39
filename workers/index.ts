export { WorkerPool } from './pool/index.js';
export { startWorkerProcess, type WorkerProcessHandle } from './worker-process.js';
