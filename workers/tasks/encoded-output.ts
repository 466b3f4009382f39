import { once } from 'node:events';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { OutputFormat } from '../../src/media/index.js';
import { collectStderr, type EncodeProcess, exitOf, spawnEncoder } from './ffmpeg.js';

/** The ffmpeg encoder exited with an error; worth another attempt (disk full, a killed child). */
export class EncodeFailed extends Error {}

/**
 * Name a conversion is written under until it is complete. Starts with a dot and carries the
 * attempt, so a crashed attempt's leftovers are recognisable and never look finished.
 */
export function partialOutputPath(finalPath: string, attempt: number): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.${attempt}.part`);
}

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
 * One conversion's output: mono float PCM written into an ffmpeg encoder that writes a partial
 * file, renamed to the final name only by finish(). abort() kills the encoder and removes the
 * partial file, so a failed or cancelled attempt leaves nothing behind.
 */
export class EncodedOutput {
  #samples = 0;
  #spawnError: Error | undefined;
  readonly #exit: Promise<number>;
  readonly #stderr: () => string;

  private constructor(
    private readonly encoder: EncodeProcess,
    private readonly part: string,
    private readonly finalPath: string,
  ) {
    // One exit promise for the whole run: racing a fresh one per write would pile up listeners.
    this.#exit = exitOf(encoder);
    this.#stderr = collectStderr(encoder.stderr);
    encoder.on('error', (e) => {
      this.#spawnError = e;
    });
    // A dead encoder turns writes into EPIPE; its exit code tells the story, so ignore the write error.
    encoder.stdin.on('error', () => {});
  }

  static async open(
    o: { outputPath: string; attempt: number; outputFormat: OutputFormat },
    sampleRate: number,
  ): Promise<EncodedOutput> {
    await removeStaleParts(o.outputPath);
    const part = partialOutputPath(o.outputPath, o.attempt);
    return new EncodedOutput(spawnEncoder(part, o.outputFormat, sampleRate), part, o.outputPath);
  }

  /** Samples written so far. */
  get samples(): number {
    return this.#samples;
  }

  /** Writes one block, waiting while the encoder catches up. */
  async write(block: Float32Array): Promise<void> {
    this.#samples += block.length;
    const ok = this.encoder.stdin.write(Buffer.from(block.buffer, block.byteOffset, block.byteLength));
    if (!ok) await Promise.race([once(this.encoder.stdin, 'drain'), this.#exit]);
  }

  /** Ends the stream, waits for the encoder and renames the file; returns its size in bytes. */
  async finish(): Promise<number> {
    this.encoder.stdin.end();
    const code = await this.#exit;
    if (this.#spawnError) throw this.#spawnError;
    if (code !== 0) throw new EncodeFailed(`encoding failed: ${this.#stderr() || `ffmpeg exit ${code}`}`);
    await rename(this.part, this.finalPath);
    return (await stat(this.finalPath)).size;
  }

  /** Kills the encoder (if still running) and removes the partial file. */
  async abort(): Promise<void> {
    const e = this.encoder;
    if (e.exitCode === null && e.signalCode === null) e.kill('SIGKILL');
    await this.#exit;
    await rm(this.part, { force: true });
  }
}
