import { workerData } from 'node:worker_threads';
import { type PinResult, pinCurrentThread, threadCpuList } from '../pool/cpu-affinity.js';
import { runConversion } from './convert.js';
import { loadedSessions } from './engines.js';
import type { CloneTask, ConvertTask, TaskOutcome } from './task-types.js';
import { runClone, runVoiceConversion } from './voice-conversion.js';

/** Per-thread data the pool owner passes when it creates the thread. */
export interface PoolThreadData {
  core: number | null;
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

/** Piscina's entry point for every pool thread. */
export default async function handle(
  task: ConvertTask | CloneTask | IdentifyTask,
): Promise<TaskOutcome | ThreadIdentity> {
  if (task.kind === 'identify') {
    return {
      tid: pin.tid,
      core: pin.core,
      cpuList: pin.tid ? threadCpuList(pin.tid) : undefined,
      pinError: pin.error,
    };
  }
  const outcome = await (task.kind === 'clone'
    ? runClone(task)
    : task.voice
      ? runVoiceConversion(task)
      : runConversion(task));
  return { ...outcome, ortSessions: loadedSessions() };
}
