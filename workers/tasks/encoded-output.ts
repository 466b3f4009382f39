import { once } from 'node:events';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { OutputFormat } from '../../src/media/index.js';
import { collectStderr, type EncodeProcess, exitOf, spawnEncoder } from './ffmpeg.js';

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

function encodeFailure(stderr: string, code: number): EncodeFailed {
  return new EncodeFailed(`encoding failed: ${encoderReason(stderr, code)}`, !PERMANENT.test(stderr));
}

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
  /** Set once the encoder has exited (with its code): no write after it can succeed. */
  #exitCode: number | undefined;
  /** One pending wait for 'drain', shared by every write that meets back-pressure. */
  #drain: Promise<void> | undefined;
  readonly #exit: Promise<number>;
  readonly #stderr: () => string;

  private constructor(
    private readonly encoder: EncodeProcess,
    private readonly part: string,
    private readonly finalPath: string,
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

  /**
   * Writes one block, waiting while the encoder catches up. Throws EncodeFailed with ffmpeg's
   * reason as soon as the encoder is gone: the conversion stops at the first failure instead of
   * running to the end into a dead pipe.
   */
  async write(block: Float32Array): Promise<void> {
    await this.throwIfEncoderDied();
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
