export { allowedCores, parseCpuList, threadCpuList } from './cpu-affinity.js';
export { pickCore } from './placement.js';
export { type ResizeResult, type ThreadInfo, WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
