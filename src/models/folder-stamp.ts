import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * The files of a model folder (top level and voices/) by name, size and modification time: a
 * report about a folder holds only while the folder is unchanged, and the catalog reads a folder
 * again only when this changes. The files are stat'ed at once (each stat is a trip to libuv's
 * thread pool). Free of Redis and ONNX Runtime: pool threads use it too (workers/tasks/engines.ts).
 */
export async function folderStamp(dir: string): Promise<string> {
  const parts = await Promise.all(
    ['', 'voices'].map(async (sub) => {
      const entries = await readdir(path.join(dir, sub), { withFileTypes: true }).catch(() => []);
      const files = entries.filter((e) => e.isFile()).map((e) => e.name);
      const stats = await Promise.all(files.map((f) => stat(path.join(dir, sub, f)).catch(() => undefined)));
      return files.flatMap((f, i) => {
        const s = stats[i];
        return s ? [`${sub}/${f}:${s.size}:${s.mtimeMs}`] : [];
      });
    }),
  );
  return parts.flat().sort().join('|');
}
