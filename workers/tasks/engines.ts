import { folderStamp } from '../../src/models/folder-stamp.js';
import { VoiceConversionEngine } from '../engine/index.js';

interface Held {
  /** The folder's stamp (files' names, sizes, modification times) taken before the load. */
  stamp: string;
  engine: Promise<VoiceConversionEngine>;
}

const engines = new Map<string, Held>();
/** ONNX Runtime sessions this thread holds (one per graph of each loaded model), shared with the pool owner. */
let sessions: Int32Array<ArrayBufferLike> = new Int32Array(1);

/** Where this thread publishes its session count: a counter the pool owner reads at any time (metrics). */
export function shareSessionCount(buffer: SharedArrayBuffer): void {
  sessions = new Int32Array(buffer);
}

function count(engine: VoiceConversionEngine, sign: 1 | -1): void {
  Atomics.add(sessions, 0, sign * Object.keys(engine.manifest.graphs).length);
}

/**
 * The engine for one model folder, loaded once per pool thread and kept while the folder is
 * unchanged: each call compares the folder's stamp with the one taken before the load, and a
 * folder changed since (a model rebuilt or fixed in place) is loaded again and the old sessions
 * released. A job therefore runs the folder as it is when the job starts (before, when each thread
 * loaded on first use and kept that for good, only the thread's first job did), and
 * `preloadEngine` changes nothing a job sees, only when the load happens. Threads are
 * pinned before any task runs, so ONNX Runtime's own threads inherit this thread's core.
 */
export function engineFor(modelDir: string): Promise<VoiceConversionEngine> {
  // One look at a time: a job's call waits for a preload under way instead of loading again.
  const next = turn.then(() => engineNow(modelDir));
  turn = next.catch(() => {});
  return next;
}

let turn: Promise<unknown> = Promise.resolve();

async function engineNow(modelDir: string): Promise<VoiceConversionEngine> {
  const stamp = await folderStamp(modelDir);
  const held = engines.get(modelDir);
  if (held?.stamp === stamp) return held.engine;
  if (held) {
    engines.delete(modelDir);
    // One task at a time per thread: nothing runs on the old engine now.
    await held.engine.then(
      async (e) => {
        count(e, -1);
        await e.close();
      },
      () => {},
    );
  }
  const entry: Held = { stamp, engine: VoiceConversionEngine.load(modelDir) };
  engines.set(modelDir, entry);
  entry.engine.then(
    (e) => count(e, 1),
    // A failed load is not kept: the next job tries again (and reports the error itself).
    () => {
      if (engines.get(modelDir) === entry) engines.delete(modelDir);
    },
  );
  return entry.engine;
}

/**
 * Loads a model before any job asks for it (the default model, at thread start), so the first
 * voice job of a thread does not wait for its sessions. A folder that cannot be loaded is left to
 * the jobs that use it, which fail with the reason (and report it) as before.
 */
export function preloadEngine(modelDir: string): Promise<void> {
  return engineFor(modelDir).then(
    () => {},
    () => {},
  );
}
