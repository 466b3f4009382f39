import { VoiceConversionEngine } from '../engine/index.js';

const engines = new Map<string, Promise<VoiceConversionEngine>>();

/**
 * The engine for one model, loaded once per pool thread on first use. Threads are pinned before
 * any task runs, so ONNX Runtime's own threads inherit this thread's core.
 */
export function engineFor(modelDir: string): Promise<VoiceConversionEngine> {
  let engine = engines.get(modelDir);
  if (!engine) {
    engine = VoiceConversionEngine.load(modelDir);
    engines.set(modelDir, engine);
    engine.catch(() => engines.delete(modelDir));
  }
  return engine;
}
