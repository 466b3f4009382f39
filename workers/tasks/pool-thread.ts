import { workerData } from 'node:worker_threads';
import { type PinResult, pinCurrentThread, threadCpuList } from '../pool/cpu-affinity.js';
import { runConversion } from './convert.js';
import { preloadEngine, shareSessionCount } from './engines.js';
import { launcher } from './launcher.js';
import type { CloneTask, ConvertTask, TaskOutcome } from './task-types.js';
import { runClone, runVoiceConversion } from './voice-conversion.js';

/** Per-thread data the pool owner passes when it creates the thread. */
export interface PoolThreadData {
  core: number | null;
  /** One Int32 the thread keeps at its ONNX Runtime session count (read by the pool owner for metrics). */
  sessions: SharedArrayBuffer;
  /** A model folder to load at thread start (the default model), before any job needs it. */
  preload?: string;
}

export interface IdentifyTask {
  kind: 'identify';
}
export interface ThreadIdentity {
  tid: number | undefined;
  core: number | undefined;
  cpuList: string | undefined;
  pinError?: string;
}

const data = workerData as PoolThreadData;

// Pin before anything else runs here, so that ONNX Runtime threads and ffmpeg children created
// later from this thread inherit the single-core mask.
const pin: PinResult = data.core === null ? { tid: undefined, core: undefined } : pinCurrentThread(data.core);
shareSessionCount(data.sessions);
// The thread's ffmpeg launcher starts now, pinned like the thread, before the model makes the
// process bigger to fork.
launcher.warm();
// Pinned first: the sessions' threads inherit the core. The thread answers its identify task (the
// pool's "ready") only once this load has settled: a thread is never terminated while ONNX Runtime
// creates its sessions (that aborts the whole process, as a shrink racing a start-up did).
const preloaded: Promise<void> = data.preload ? preloadEngine(data.preload) : Promise.resolve();

/** Piscina's entry point for every pool thread. */
export default async function handle(
  task: ConvertTask | CloneTask | IdentifyTask,
): Promise<TaskOutcome | ThreadIdentity> {
  if (task.kind === 'identify') {
    await preloaded;
    return {
      tid: pin.tid,
      core: pin.core,
      cpuList: pin.tid ? threadCpuList(pin.tid) : undefined,
      pinError: pin.error,
    };
  }
  return task.kind === 'clone' ? runClone(task) : task.voice ? runVoiceConversion(task) : runConversion(task);
}
