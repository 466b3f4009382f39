import { once } from 'node:events';
import type { OutputFormat } from '../../src/media/index.js';
import { collectStderr, type EncodeProcess, exitOf, spawnEncoder } from './ffmpeg.js';
import { PartialOutput } from './partial-output.js';

/** The ffmpeg encoder exited with an error; worth another attempt (disk full, a killed child). */
export class EncodeFailed extends Error {}

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
    private readonly part: PartialOutput,
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
    const part = await PartialOutput.claim(o);
    return new EncodedOutput(spawnEncoder(part.path, o.outputFormat, sampleRate), part);
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
    return this.part.commit();
  }

  /** Kills the encoder (if still running) and removes the partial file. */
  async abort(): Promise<void> {
    const e = this.encoder;
    if (e.exitCode === null && e.signalCode === null) e.kill('SIGKILL');
    await this.#exit;
    await this.part.discard();
  }
}
