import { EngineOptionsError } from './errors.js';

export interface ChunkerOptions {
  /** New samples per window. */
  chunk: number;
  /** Samples of context before and after the chunk; zeros stand in beyond the file's edges. */
  left: number;
  right: number;
}

/** One fixed-size model input: left context + chunk + right context. */
export interface ChunkWindow {
  /** left + chunk + right samples; owned by the caller. */
  readonly samples: Float32Array;
  /** Position in the stream of the chunk's first sample (window starts `left` earlier). */
  readonly start: number;
  /** Real samples in the chunk (< chunk only for the last window). */
  readonly valid: number;
}

/**
 * Cuts a stream into fixed windows whose centres tile the stream exactly, so a model whose output at any
 * sample depends on at most `left`/`right` neighbours gives the same result chunked as on the whole file.
 * Holds one window of audio, whatever the stream's length.
 */
export class Chunker {
  readonly #o: ChunkerOptions;
  readonly #buf: Float32Array;
  /** Samples in #buf that are filled (leading zeros included). */
  #filled: number;
  #start = 0;
  #flushed = false;

  constructor(options: ChunkerOptions) {
    for (const key of ['chunk', 'left', 'right'] as const) {
      const v = options[key];
      if (!Number.isInteger(v) || v < (key === 'chunk' ? 1 : 0)) {
        throw new EngineOptionsError(
          `options.${key} must be a ${key === 'chunk' ? 'positive' : 'non-negative'} integer`,
        );
      }
    }
    this.#o = { ...options };
    this.#buf = new Float32Array(options.left + options.chunk + options.right);
    this.#filled = options.left;
  }

  /** Accepts any number of samples; returns the windows that became complete. */
  push(pcm: Float32Array): ChunkWindow[] {
    if (this.#flushed) throw new EngineOptionsError('Chunker: push() after flush()');
    const out: ChunkWindow[] = [];
    let offset = 0;
    while (offset < pcm.length) {
      const take = Math.min(pcm.length - offset, this.#buf.length - this.#filled);
      this.#buf.set(pcm.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === this.#buf.length) out.push(this.#emit(this.#o.chunk));
    }
    return out;
  }

  /** Emits the windows that cover the remaining samples, zero-padded; the chunker cannot be reused. */
  flush(): ChunkWindow[] {
    if (this.#flushed) return [];
    this.#flushed = true;
    const out: ChunkWindow[] = [];
    while (this.#filled > this.#o.left) {
      const valid = Math.min(this.#filled - this.#o.left, this.#o.chunk);
      this.#buf.fill(0, this.#filled);
      const realAfter = this.#filled;
      out.push(this.#emit(valid));
      // #emit assumed a full window; only the samples that were real remain real.
      this.#filled = Math.max(this.#o.left, realAfter - this.#o.chunk);
    }
    return out;
  }

  /** The part of a model output (same length as its window) that belongs to the window's chunk. */
  centre(window: ChunkWindow, output: Float32Array): Float32Array {
    return output.subarray(this.#o.left, this.#o.left + window.valid);
  }

  #emit(valid: number): ChunkWindow {
    const window = { samples: this.#buf.slice(), start: this.#start, valid };
    this.#start += this.#o.chunk;
    this.#buf.copyWithin(0, this.#o.chunk);
    this.#filled = this.#buf.length - this.#o.chunk;
    return window;
  }
}
