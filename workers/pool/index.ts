export { allowedCores, parseCpuList, threadCpuList } from './cpu-affinity.js';
export { type ThreadInfo, WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
