import { VoiceConversionEngine } from '../engine/index.js';

const engines = new Map<string, Promise<VoiceConversionEngine>>();
/** ONNX Runtime sessions this thread holds: one per graph of each loaded model. */
let sessions = 0;

/** How many ONNX Runtime sessions this thread has loaded (reported with each outcome, for metrics). */
export function loadedSessions(): number {
  return sessions;
}

/**
 * The engine for one model, loaded once per pool thread on first use. Threads are pinned before
 * any task runs, so ONNX Runtime's own threads inherit this thread's core.
 */
export function engineFor(modelDir: string): Promise<VoiceConversionEngine> {
  let engine = engines.get(modelDir);
  if (!engine) {
    engine = VoiceConversionEngine.load(modelDir);
    engines.set(modelDir, engine);
    engine.then(
      (e) => {
        sessions += Object.keys(e.manifest.graphs).length;
      },
      () => {},
    );
    engine.catch(() => engines.delete(modelDir));
  }
  return engine;
}
