import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import type { OutputFormat } from '../../src/media/index.js';
import { collectStderr, type EncodeProcess, exitOf, spawnEncoder } from './ffmpeg.js';
import { OutputOverQuota, PartialOutput } from './partial-output.js';

export { OutputOverQuota } from './partial-output.js';

/**
 * The ffmpeg encoder failed. `retryable` is false where another attempt cannot help (the output
 * folder is not writable); a full disk or a killed child may pass on another attempt.
 */
export class EncodeFailed extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** ffmpeg's reasons that no retry can cure. */
const PERMANENT =
  /Permission denied|Operation not permitted|Read-only file system|Not a directory|No such file or directory/i;

/**
 * ffmpeg's own reason without server detail: paths become "<output>" and `[mp3 @ 0x55…]`
 * addresses go, so the user sees e.g. "encoding failed: No space left on device".
 */
export function encoderReason(stderr: string, code: number): string {
  const cleaned = stderr
    .replace(/\[([a-z0-9_]+) @ 0x[0-9a-f]+\]\s*/gi, '')
    .replace(/(file:)?\/[^\s:'"]*/g, '<output>')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned || (code === -1 ? 'the encoder was killed' : `the encoder exited with code ${code}`);
}

export function encodeFailure(stderr: string, code: number): EncodeFailed {
  return new EncodeFailed(`encoding failed: ${encoderReason(stderr, code)}`, !PERMANENT.test(stderr));
}

/** How often a growing output's size is compared with its limit. */
const SIZE_CHECK_MS = 250;

/** The byte limit for one output (undefined: none); a quota already used up refuses at once. */
export function outputLimit(maxOutputBytes: number | undefined): number | undefined {
  const max = maxOutputBytes === undefined ? undefined : Math.max(0, Math.floor(maxOutputBytes));
  if (max === 0) throw new OutputOverQuota(0);
  return max;
}

/**
 * One conversion's output: mono float PCM written into an ffmpeg encoder that writes a partial
 * file, renamed to the final name only by finish(). abort() kills the encoder and removes the
 * partial file, so a failed or cancelled attempt leaves nothing behind.
 */
export class EncodedOutput {
  #samples = 0;
  #nextSizeCheck = 0;
  #spawnError: Error | undefined;
  /** Set once the encoder has exited (with its code): no write after it can succeed. */
  #exitCode: number | undefined;
  /** One pending wait for 'drain', shared by every write that meets back-pressure. */
  #drain: Promise<void> | undefined;
  readonly #exit: Promise<number>;
  readonly #stderr: () => string;

  private constructor(
    private readonly encoder: EncodeProcess,
    private readonly part: PartialOutput,
    private readonly maxBytes: number | undefined,
  ) {
    // One exit promise for the whole run: racing a fresh one per write would pile up listeners.
    this.#exit = exitOf(encoder);
    void this.#exit.then((code) => {
      this.#exitCode = code;
    });
    this.#stderr = collectStderr(encoder.stderr);
    encoder.on('error', (e) => {
      this.#spawnError = e;
    });
    // A dead encoder turns writes into EPIPE; its exit code tells the story, so ignore the write error.
    encoder.stdin.on('error', () => {});
  }

  static async open(
    o: { outputPath: string; attempt: number; outputFormat: OutputFormat; maxOutputBytes?: number },
    sampleRate: number,
  ): Promise<EncodedOutput> {
    const part = await PartialOutput.claim(o);
    const max = outputLimit(o.maxOutputBytes);
    return new EncodedOutput(spawnEncoder(part.path, o.outputFormat, sampleRate, max), part, max);
  }

  /** Bytes the encoder has written to the partial file so far. */
  bytesOnDisk(): Promise<number> {
    return stat(this.part.path).then(
      (s) => s.size,
      () => 0,
    );
  }

  /** Samples written so far. */
  get samples(): number {
    return this.#samples;
  }

  /**
   * Writes one block, waiting while the encoder catches up. Throws EncodeFailed with ffmpeg's
   * reason as soon as the encoder is gone: the conversion stops at the first failure instead of
   * running to the end into a dead pipe.
   */
  async write(block: Float32Array): Promise<void> {
    await this.throwIfEncoderDied();
    if (this.maxBytes !== undefined && Date.now() >= this.#nextSizeCheck) {
      this.#nextSizeCheck = Date.now() + SIZE_CHECK_MS;
      await this.assertWithinLimit();
    }
    this.#samples += block.length;
    const ok = this.encoder.stdin.write(Buffer.from(block.buffer, block.byteOffset, block.byteLength));
    if (ok) return;
    this.#drain ??= once(this.encoder.stdin, 'drain').then(
      () => {
        this.#drain = undefined;
      },
      () => {
        this.#drain = undefined;
      },
    );
    await Promise.race([this.#drain, this.#exit]);
    await this.throwIfEncoderDied();
  }

  private async throwIfEncoderDied(): Promise<void> {
    if (this.#spawnError) throw this.#spawnError;
    if (this.#exitCode === undefined) return;
    // The encoder exited before its input ended: always a failure, even with code 0.
    throw encodeFailure(this.#stderr(), this.#exitCode);
  }

  /** Ends the stream, waits for the encoder and renames the file; returns its size in bytes. */
  async finish(): Promise<number> {
    this.encoder.stdin.end();
    const code = await this.#exit;
    if (this.#spawnError) throw this.#spawnError;
    if (code !== 0) throw encodeFailure(this.#stderr(), code);
    // ffmpeg's -fs ends a file that reached the limit as if it were complete: refuse it here.
    await this.assertWithinLimit();
    return this.part.commit();
  }

  private async assertWithinLimit(): Promise<void> {
    if (this.maxBytes !== undefined) await this.part.assertBelow(this.maxBytes);
  }

  /** Kills the encoder (if still running) and removes the partial file. */
  async abort(): Promise<void> {
    const e = this.encoder;
    if (e.exitCode === null && e.signalCode === null) e.kill('SIGKILL');
    await this.#exit;
    await this.part.discard();
  }
}
