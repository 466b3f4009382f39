import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { partialOutputPath } from '../../src/workspace/outputs.js';

/** The output reached what is left of the workspace's byte quota; another attempt would too. */
export class OutputOverQuota extends Error {
  readonly code = 'VC_ERR_QUOTA_EXCEEDED';
  constructor(limit: number) {
    super(
      `the output reached the ${limit} bytes left of the workspace's storage quota and was removed; delete files or choose a compressed format`,
    );
  }
}

export { partialOutputPath };

/** Removes what earlier, crashed attempts of this conversion left behind. */
async function removeStaleParts(finalPath: string): Promise<void> {
  const dir = path.dirname(finalPath);
  const prefix = `.${path.basename(finalPath)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix) && n.endsWith('.part'))
      .map((n) => rm(path.join(dir, n), { force: true })),
  );
}

/**
 * The partial file one attempt writes its output to: claimed after removing earlier attempts'
 * leftovers, renamed to the final name by commit() only, removed by discard().
 */
export class PartialOutput {
  private constructor(
    readonly path: string,
    private readonly finalPath: string,
  ) {}

  static async claim(o: { outputPath: string; attempt: number }): Promise<PartialOutput> {
    await removeStaleParts(o.outputPath);
    return new PartialOutput(partialOutputPath(o.outputPath, o.attempt), o.outputPath);
  }

  /** Renames the finished file to its final name; returns its size in bytes. */
  async commit(): Promise<number> {
    await rename(this.path, this.finalPath);
    return (await stat(this.finalPath)).size;
  }

  /**
   * Throws OutputOverQuota once the file has reached `maxBytes` (ffmpeg's `-fs` ends a file at the
   * limit as if it were complete, so a finished file at the limit is refused too).
   */
  async assertBelow(maxBytes: number): Promise<void> {
    const size = await stat(this.path).then(
      (s) => s.size,
      () => 0,
    );
    if (size >= maxBytes) throw new OutputOverQuota(maxBytes);
  }

  async discard(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
