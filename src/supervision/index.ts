export { type SupervisorHandle, startAll } from './start-all.js';
export { SupervisedWorker, type SupervisedWorkerOptions } from './supervised-worker.js';
